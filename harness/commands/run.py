"""``spikebench run``: train and time frameworks on one configuration, one process per cell."""

from __future__ import annotations

import argparse
import sys

import frameworks
from frameworks.spec import NEURON_TYPES
from harness import datasets, environment
from harness.cell import Cell
from harness.commands import _common, _executor_flags
from harness.commands._common import positive
from harness.report.summary import format_summary
from harness.run import default_out, run_cells

HELP = "train and time frameworks on one configuration"

QUICK_SAMPLES = 512
_SAME_NAMES = (
    "task", "hidden", "width", "neuron", "time_steps", "batch_size", "epochs", "seed", "surrogate",
    "data_dir", "evaluate",
)  # fmt: skip
"""The Cell fields that take the flag of the same name as they are."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--task", default="shd", choices=["shd", "nmnist"], help="benchmark task (default: shd)")
    _common.add_frameworks(parser, "every installed one but torch_compile, ~45 s to compile")
    _common.add_device(parser)
    add("--hidden", type=positive, default=128, help="hidden neurons H (default 128)")
    add("--width", type=positive, default=1, help="N-MNIST channel multiplier m (default 1)")
    add("--neuron", default="LIF", choices=NEURON_TYPES, help="SHD hidden neurons (default LIF)")
    add("--batch-size", type=positive, default=64, help="batch size B (default 64)")
    add("--time-steps", type=positive, default=256, help="time steps T (default 256)")
    _common.add_samples(parser, f"{QUICK_SAMPLES} on the synthetic twin, all of real data")
    _common.add_epochs(parser)
    _common.add_seed(parser)
    add("--fixed-beta", action="store_true", help="do not train beta (default: trained)")
    add("--surrogate", help="surrogate gradient (default: the task's, arctan for SHD)")
    add("--slope", type=float, help="surrogate slope k (default: the task's)")
    add("--lr", type=float, help="Adam learning rate (default: the task's, 5e-4 SHD, 2e-2 N-MNIST)")
    _common.add_evaluate(parser)
    _common.add_out(parser, "results/<timestamp>-<task>-<device>")
    _common.add_data_arguments(parser)
    _common.add_timeout(parser)
    _executor_flags.add_arguments(parser)
    _common.add_limits(parser)


def cells_from_args(args: argparse.Namespace, device: str) -> list[Cell]:
    """One cell per chosen framework, all on the configuration the flags give."""
    chosen = _common.checked_frameworks(args.frameworks, frameworks.available())
    data = datasets.resolve_source(args.task, args.data, args.data_dir)
    samples = args.samples
    if samples is None and data == "synthetic":
        samples = QUICK_SAMPLES
    same = {name: getattr(args, name) for name in _SAME_NAMES}
    return [
        Cell(
            framework=name,
            device=device,
            n_samples=samples,
            train_beta=not args.fixed_beta,
            surrogate_slope=args.slope,
            learning_rate=args.lr,
            data=data,
            **same,
        )
        for name in chosen
    ]


def run(args: argparse.Namespace) -> int:
    device = _common.chosen_device(args.device)
    cells = cells_from_args(args, device)
    out = args.out or default_out(args.task, device)
    env = environment.capture()
    print(f"spikebench: {len(cells)} cell(s) on {device}; results in {out}", file=sys.stderr)
    executor = _executor_flags.executor_from_args(args, device, out, len(cells))
    rows = run_cells(
        cells,
        out,
        env,
        timeout=args.timeout,
        executor=executor,
        **_executor_flags.run_options(args),
        limit_options=_common.limit_options(args),
    )
    print(format_summary(rows))
    print(f"\nresults: {out / 'results.csv'}, {out / 'results.json'}")
    return 1 if any(row.status == "failed" for row in rows) else 0
