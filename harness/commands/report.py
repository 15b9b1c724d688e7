"""``spikebench report DIR``: markdown and CSV tables and PNG plots of a results folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.report import write_report

HELP = "tables (markdown, CSV) and plots of a results folder"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="a folder with results.json")
    parser.add_argument("--out", type=Path, help="where to write (default: the folder itself)")
    parser.add_argument(
        "--benchmark-json",
        type=Path,
        nargs="*",
        default=[],
        help="pytest-benchmark JSON files (--benchmark-json) to include",
    )


def run(args: argparse.Namespace) -> int:
    report = write_report(args.folder, args.out, args.benchmark_json)
    print(report.read_text())
    print(f"\nwritten: {report}")
    return 0
