"""The shared command-line flags that choose the data: ``--data`` and ``--data-dir``."""

from __future__ import annotations

import argparse

from harness.datasets._load import SOURCES
from harness.datasets._paths import DATA_ENV


def add_data_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """Adds ``--data {auto,real,synthetic}`` (dest ``data``) and ``--data-dir DIR`` (``data_dir``).

    Args:
        parser: the subcommand's parser.

    Returns:
        The argument group holding the two flags.
    """
    group = parser.add_argument_group("data")
    group.add_argument(
        "--data",
        choices=SOURCES,
        default="auto",
        help="real: the dataset files (error if missing); synthetic: a seeded twin with the same "
        "shapes and rates; auto (default): real when present, else the twin with a warning",
    )
    group.add_argument(
        "--data-dir",
        metavar="DIR",
        default=None,
        help=f"folder holding SHD/ and NMNIST/ (default: ${DATA_ENV}, else "
        "$XDG_CACHE_HOME/spikebench/data or ~/.cache/spikebench/data)",
    )
    return group
