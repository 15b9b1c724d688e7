"""``spikebench report DIR``: markdown and CSV tables and PNG plots of a results folder.

``spikebench report DIR1 DIR2 ...`` (several folders of the same cells, e.g. one per commit): the
history, each cell's time against commit with its spread (``harness.report.history``), written to
``--out`` (default: the last folder)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.report import write_report
from harness.report.history import write_history

HELP = "tables (markdown, CSV) and plots of a results folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "folders", type=Path, nargs="+", help="a folder with results.json; several: their history"
    )
    parser.add_argument("--out", type=Path, help="where to write (default: the (last) folder itself)")
    parser.add_argument(
        "--benchmark-json",
        type=Path,
        nargs="*",
        default=[],
        help="pytest-benchmark JSON files (--benchmark-json) to include",
    )


def run(args: argparse.Namespace) -> int:
    if len(args.folders) > 1:
        report = write_history(args.folders, args.out or args.folders[-1])
    else:
        report = write_report(args.folders[0], args.out, args.benchmark_json)
    print(report.read_text())
    print(f"\nwritten: {report}")
    return 0
