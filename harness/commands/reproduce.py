"""``spikebench reproduce table1|table2|micro``: run one of the paper's grids, resumably.

Every framework x cell runs in its own process with a time limit; a crash, an out-of-memory
error or a time-out is recorded in its cell and the grid goes on. Re-running the same command on
the same ``--out`` folder resumes: finished cells are kept, not recomputed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import datasets, environment
from harness.commands._arguments import checked_frameworks, framework_list
from harness.commands.run import best_device
from harness.errors import SpikebenchError
from harness.grids import GRIDS
from harness.report import write_report
from harness.run import default_out, run_cells

HELP = "run the paper's Table 1 or 2 grid, or the micro-benchmark (resumable)"
DEFAULT_FRAMEWORKS = ("spyx_core", "snntorch", "norse")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("grid", choices=sorted(GRIDS), help="which grid")
    add("--frameworks", type=framework_list, help="comma-separated (default: spyx_core,snntorch,norse)")
    add("--device", default="auto", choices=("auto", "cpu", "gpu", "tpu"))
    add("--epochs", type=int, default=4, help="epochs per cell; the first is the warm-up (default 4)")
    add("--samples", type=int, help="training samples per cell (default: the full set)")
    add("--seed", type=int, default=0)
    datasets.add_data_arguments(parser)
    add("--out", type=Path, help="results folder; an existing one is resumed")
    add("--timeout", type=float, default=3600, help="seconds per cell (default 3600)")
    add("--retry-failed", action="store_true", help="recompute cells that failed before")


def run(args: argparse.Namespace) -> int:
    names = checked_frameworks(args.frameworks, list(DEFAULT_FRAMEWORKS))
    if args.epochs < 2:
        raise SpikebenchError("--epochs must be at least 2: one warm-up and one timed epoch")
    device = best_device() if args.device == "auto" else args.device
    task = {"table1": "shd", "table2": "nmnist"}.get(args.grid)
    data = datasets.resolve_source(task, args.data, args.data_dir) if task else "synthetic"
    common = dict(
        device=device,
        epochs=args.epochs,
        n_samples=args.samples,
        seed=args.seed,
        data=data,
        data_dir=args.data_dir,
    )
    try:
        cells = GRIDS[args.grid](names, **common)
    except ValueError as error:
        raise SpikebenchError(str(error)) from None
    out = args.out or default_out(args.grid, device)
    print(
        f"spikebench: {args.grid}, {len(cells)} cell(s) on {device}; results in {out}", file=sys.stderr
    )
    rows = run_cells(
        cells, out, environment.capture(), timeout=args.timeout, retry_failed=args.retry_failed
    )
    report = write_report(out)
    print(report.read_text())
    return 1 if any(row.status == "failed" for row in rows) else 0
