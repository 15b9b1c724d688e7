"""``spikebench reproduce table1|table2|micro``: run one of the paper's grids, resumably.

With real data each cell also measures the test split after training (``--no-evaluate`` skips
it; ``--evaluate`` measures the synthetic twin's too). Every framework x cell runs in its own
process with a time limit; a crash, an out-of-memory error or a time-out is recorded in its cell
and the grid goes on. Re-running the same command on the same ``--out`` folder resumes: finished
cells are kept, not recomputed.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from harness import datasets, environment
from harness.cell import Cell
from harness.commands import _common, _executor_flags
from harness.grids import GRIDS
from harness.report import write_report
from harness.results import REFERENCE
from harness.run import default_out, run_cells

HELP = "run the paper's Table 1 or 2 grid, or the micro-benchmark (resumable)"
DEFAULT_FRAMEWORKS = (REFERENCE, "snntorch", "norse")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("grid", choices=sorted(GRIDS), help="which grid")
    _common.add_frameworks(parser, ",".join(DEFAULT_FRAMEWORKS))
    _common.add_device(parser)
    add(
        "--sizes",
        type=_common.size_list,
        help="comma-separated sizes: H (table1), m (table2) or n (micro); default: the paper's",
    )
    _common.add_epochs(parser)
    _common.add_samples(parser, "the full set")
    _common.add_seed(parser)
    _common.add_evaluate(parser)
    _common.add_data_arguments(parser)
    _common.add_out(parser, "results/<timestamp>-<grid>-<device>")
    _common.add_timeout(parser)
    _executor_flags.add_arguments(parser)
    _common.add_limits(parser)
    add("--retry-failed", action="store_true", help="recompute cells that failed before")
    add(
        "--first",
        type=_common.positive,
        metavar="N",
        help="only the grid's first N configurations, each with every framework (a smoke run)",
    )


def cells_from_args(args: argparse.Namespace, device: str) -> list[Cell]:
    """The grid's cells for the chosen frameworks, on the data kind resolved once (so is
    ``evaluate``: by default, exactly with real data)."""
    names = _common.checked_frameworks(args.frameworks, list(DEFAULT_FRAMEWORKS))
    task = {"table1": "shd", "table2": "nmnist"}.get(args.grid)
    data = datasets.resolve_source(task, args.data, args.data_dir) if task else "synthetic"
    common = dict(
        device=device,
        epochs=args.epochs,
        n_samples=args.samples,
        seed=args.seed,
        data=data,
        data_dir=args.data_dir,
        evaluate=args.evaluate,
    )
    sizes = {"sizes": args.sizes} if args.sizes else {}
    if not args.first:
        return GRIDS[args.grid](names, **sizes, **common)
    # Cut before the samples are set: a later configuration's larger batch need not fit them.
    cells = first_configurations(
        GRIDS[args.grid](names, **sizes, **common | {"n_samples": None}), args.first
    )
    if args.grid == "micro":  # its cells take no samples (the grid drops them)
        return cells
    return [dataclasses.replace(cell, n_samples=args.samples) for cell in cells]


def first_configurations(cells: list[Cell], n: int) -> list[Cell]:
    """The cells of the first ``n`` distinct configurations (all but the framework), in order."""

    def configuration(cell: Cell) -> tuple:
        return tuple(v for k, v in sorted(cell.as_dict().items()) if k != "framework")

    order: dict[tuple, int] = {}
    for cell in cells:
        order.setdefault(configuration(cell), len(order))
    return [cell for cell in cells if order[configuration(cell)] < n]


def run(args: argparse.Namespace) -> int:
    device = _common.chosen_device(args.device)
    cells = cells_from_args(args, device)
    out = args.out or default_out(args.grid, device)
    print(
        f"spikebench: {args.grid}, {len(cells)} cell(s) on {device}; results in {out}", file=sys.stderr
    )
    rows = run_cells(
        cells,
        out,
        environment.capture(),
        timeout=args.timeout,
        retry_failed=args.retry_failed,
        executor=_executor_flags.executor_from_args(args, device, out, len(cells)),
        **_executor_flags.run_options(args),
        limit_options=_common.limit_options(args),
    )
    report = write_report(out)
    print(report.read_text())
    return 1 if any(row.status == "failed" for row in rows) else 0
