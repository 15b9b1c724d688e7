"""``spikebench compare BASE NEW``: is NEW slower than BASE, cell by cell, beyond the noise?

BASE and NEW are results folders or pytest-benchmark JSON files. Each cell's samples are compared
with the two-sided Mann-Whitney U test and the median ratio (harness/compare.py,
docs/regression.md); the verdicts are printed as a markdown table. The exit status is 1 only when
some cell is significantly slower beyond the factor; 2 when the cells' definitions differ.

``spikebench compare --interleave BASE_CHECKOUT HEAD_CHECKOUT`` first runs the cells in both source
trees in alternation, each sample a fresh process, then compares them the same way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import environment
from harness.commands import _common
from harness.compare import ALPHA, FACTOR, compare, exit_status, load_samples, markdown
from harness.interleave import CI_FRAMEWORKS, MIN_ROUNDS, ROUNDS, cells_of, ci_cells, interleave

OUT = Path("results/_scratch/compare")
HELP = "compare two results (folders or pytest-benchmark JSON), or run base vs head interleaved"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("base", type=Path, help="results folder or pytest-benchmark JSON (--interleave: a checkout)")
    add("new", type=Path, help="the same for the new side (--interleave: the head checkout)")
    add("--factor", type=_factor, default=FACTOR, help=f"median ratio that counts (default {FACTOR:g})")
    add("--alpha", type=_common.rate, default=ALPHA, help=f"the test's level (default {ALPHA:g})")
    add("--markdown-out", type=Path, help="also write the table to this file (e.g. for a PR comment)")
    group = parser.add_argument_group("interleave")
    group.add_argument(
        "--interleave",
        action="store_true",
        help="BASE and NEW are checkouts: run the cells in both, alternating, then compare",
    )
    group.add_argument(
        "--rounds",
        type=_common.positive,
        default=ROUNDS,
        help=f"fresh processes per cell and side (default {ROUNDS}, at least {MIN_ROUNDS})",
    )
    group.add_argument("--cells", type=Path, help="run the cells of this results folder")
    _common.add_frameworks(parser, ",".join(CI_FRAMEWORKS) + " on the default cell")
    _common.add_device(parser, auto=False)
    _common.add_timeout(parser)
    _common.add_limits(parser)
    group.add_argument(
        "--out", type=Path, default=OUT, help=f"where the two sides' results go (default {OUT}/)"
    )


def _factor(text: str) -> float:
    value = float(text)
    if value <= 1:
        raise argparse.ArgumentTypeError(f"must be above 1 (1.1: a 10% change counts), got {value}")
    return value


def _interleaved(args: argparse.Namespace) -> tuple[Path, Path]:
    """Runs the cells in both checkouts; the two results folders."""
    names = _common.checked_frameworks(args.frameworks, list(CI_FRAMEWORKS))
    cells = cells_of(args.cells) if args.cells else ci_cells(names, args.device)
    if args.cells and args.frameworks:
        cells = [cell for cell in cells if cell.framework in names]
    out = args.out
    checkouts = {"base": args.base.resolve(), "head": args.new.resolve()}
    print(f"spikebench: {len(cells)} cell(s) x {args.rounds} rounds a side in {out}", file=sys.stderr)
    folders = interleave(
        cells, checkouts, out, environment.capture(), rounds=args.rounds, timeout=args.timeout,
        limit_options=_common.limit_options(args),
    )  # fmt: skip
    return folders["base"], folders["head"]


def run(args: argparse.Namespace) -> int:
    base, new = _interleaved(args) if args.interleave else (args.base, args.new)
    verdicts, notes = compare(
        load_samples(base), load_samples(new), factor=args.factor, alpha=args.alpha
    )
    text = markdown(verdicts, notes, factor=args.factor, alpha=args.alpha)
    print(text)
    if args.markdown_out:
        args.markdown_out.write_text(text + "\n")
    return exit_status(verdicts)
