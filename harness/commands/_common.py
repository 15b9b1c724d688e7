"""Every flag and argument type that several subcommands share, each defined once.

``--frameworks --device --epochs --samples --seed --timeout --evaluate --out --data --data-dir``,
and the limit measurement's ``--peak-size --no-limits``: a command adds the ones it takes with
``add_*`` (the defaults a command chooses, such as which frameworks, are its own and named in the
help). The ``type=`` parsers raise ``argparse.ArgumentTypeError``, so argparse reports a bad value
as a usage error (exit 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import frameworks
from frameworks.adapter import DEVICES
from harness.datasets import DATA_ENV, SOURCES
from harness.environment import best_device
from harness.limits import PEAK_SIZE, LimitOptions

WARMUP_EPOCHS = 1
"""Epochs of a timed cell that are not timed: the first (compile and first-step overheads)."""
EPOCHS = 4
"""Epochs per timed cell by default: one warm-up and three timed."""
TIMEOUT_S = 3600.0


def positive(text: str) -> int:
    """An ``argparse`` type: an integer of at least 1."""
    return _at_least(text, 1)


def non_negative(text: str) -> int:
    """An ``argparse`` type: an integer of at least 0."""
    return _at_least(text, 0)


def timed_epochs(text: str) -> int:
    """An ``argparse`` type: an epoch count with the warm-up and at least one timed epoch."""
    value = int(text)
    if value < WARMUP_EPOCHS + 1:
        raise argparse.ArgumentTypeError(
            f"must be at least {WARMUP_EPOCHS + 1}: one warm-up and one timed epoch, got {value}"
        )
    return value


def _at_least(text: str, low: int) -> int:
    value = int(text)
    if value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
    return value


def rate(text: str) -> float:
    """An ``argparse`` type: a number in (0, 1]."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1], got {value}")
    return value


def framework_list(text: str) -> list[str]:
    """An ``argparse`` type: comma-separated framework names (``name`` or ``name@variant``)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one framework name")
    return names


def size_list(text: str) -> tuple[int, ...]:
    """An ``argparse`` type: comma-separated positive integers (a grid's sizes)."""
    sizes = tuple(positive(part.strip()) for part in text.split(",") if part.strip())
    if not sizes:
        raise argparse.ArgumentTypeError("give at least one size")
    return sizes


def checked_frameworks(names: list[str] | None, default: list[str]) -> list[str]:
    """``names`` (or ``default``), each checked to be registered.

    Raises:
        frameworks.UnknownFramework: an unknown name or variant (the message lists the known ones).
    """
    chosen = names or default
    for name in chosen:
        frameworks.validate(name)
    return chosen


def chosen_device(name: str) -> str:
    """``--device``'s value, ``auto`` resolved to the best device present."""
    return best_device() if name == "auto" else name


def add_frameworks(parser: argparse.ArgumentParser, default: str) -> None:
    """``--frameworks a,b`` (dest ``frameworks``, None when not given); ``default`` says what then."""
    parser.add_argument(
        "--frameworks", type=framework_list, help=f"comma-separated names (default: {default})"
    )


def add_device(parser: argparse.ArgumentParser, *, auto: bool = True) -> None:
    """``--device``: ``auto`` (the default: the best one present, ``chosen_device``) or one of
    ``frameworks.adapter.DEVICES``; ``auto=False`` leaves ``auto`` out and defaults to the CPU."""
    choices = ("auto", *DEVICES) if auto else DEVICES
    default = "auto" if auto else "cpu"
    what = "the best one present" if auto else "cpu"
    parser.add_argument("--device", default=default, choices=choices, help=f"default: {what}")


def add_epochs(parser: argparse.ArgumentParser, *, timed: bool = True, default: int = EPOCHS) -> None:
    """``--epochs``: with ``timed``, per cell, the first the warm-up (at least 2); else every epoch
    trains and counts (at least 1)."""
    if timed:
        help_text = f"epochs per cell; the first is the warm-up (default {default})"
    else:
        help_text = f"epochs (default {default})"
    kind = timed_epochs if timed else positive
    parser.add_argument("--epochs", type=kind, default=default, help=help_text)


def add_samples(parser: argparse.ArgumentParser, default: str) -> None:
    """``--samples N`` training samples (dest ``samples``, None when not given: ``default`` says)."""
    parser.add_argument("--samples", type=positive, help=f"training samples (default: {default})")


def add_seed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of weights, data and sample order (and of train's augmentation; default 0)",
    )


def add_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout",
        type=float,
        default=TIMEOUT_S,
        help=f"seconds per cell before it is stopped (default {TIMEOUT_S:g})",
    )


def add_evaluate(parser: argparse.ArgumentParser) -> None:
    """``--evaluate`` / ``--no-evaluate`` (dest ``evaluate``; None when neither: ``Cell``'s auto)."""
    parser.add_argument(
        "--evaluate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="measure test accuracy after training (default: with real data only; "
        "--evaluate on the synthetic twin measures its test split)",
    )


def add_out(parser: argparse.ArgumentParser, default: str) -> None:
    """``--out DIR``, the results folder; an existing one is resumed."""
    parser.add_argument(
        "--out", type=Path, help=f"results folder; an existing one is resumed (default: {default})"
    )


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


def add_limits(parser: argparse.ArgumentParser) -> None:
    """``--peak-size N`` (the peak matmul's side) and ``--no-limits`` (dest ``no_limits``)."""
    group = parser.add_argument_group("limits (docs/limits.md)")
    group.add_argument(
        "--peak-size",
        type=positive,
        default=PEAK_SIZE,
        help=f"side of the float32 square matmul whose rate is the device's peak (default {PEAK_SIZE})",
    )
    group.add_argument(
        "--no-limits",
        action="store_true",
        help="do not measure the device's peak and dense floors after the cells",
    )


def limit_options(args: argparse.Namespace) -> LimitOptions | None:
    """The limit measurement ``add_limits``' flags ask for; None with ``--no-limits``."""
    return None if args.no_limits else LimitOptions(peak_size=args.peak_size)
