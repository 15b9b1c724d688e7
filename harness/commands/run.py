"""``spikebench run``: train and time frameworks on one configuration, one process per cell."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import frameworks
from frameworks.spec import NEURON_TYPES
from harness import datasets, environment
from harness.cell import Cell
from harness.commands._arguments import checked_frameworks, framework_list, positive
from harness.errors import SpikebenchError
from harness.report.summary import format_summary
from harness.run import default_out, run_cells

HELP = "train and time frameworks on one configuration"

DEVICES = ("auto", "cpu", "gpu", "tpu")
QUICK_SAMPLES = 512


def best_device() -> str:
    """The fastest device present: a JAX accelerator, else an NVIDIA GPU, else the CPU.

    Probed in a child process so that this process never initialises an accelerator.
    """
    probe = "import jax; print(' '.join(sorted({d.platform for d in jax.devices()})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    platforms = done.stdout.split()
    if "gpu" in platforms or "cuda" in platforms or environment.gpus():
        return "gpu"
    return "tpu" if "tpu" in platforms else "cpu"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--task", default="shd", choices=["shd", "nmnist"], help="benchmark task (default: shd)")
    add(
        "--frameworks",
        type=framework_list,
        help="comma-separated (default: every installed one but torch_compile, ~45 s to compile)",
    )
    add("--device", default="auto", choices=DEVICES, help="default: the best one present")
    add("--hidden", type=positive, default=128, help="hidden neurons H (default 128)")
    add("--width", type=positive, default=1, help="N-MNIST channel multiplier m (default 1)")
    add("--neuron", default="LIF", choices=NEURON_TYPES, help="SHD hidden neurons (default LIF)")
    add("--batch-size", type=positive, default=64, help="batch size B (default 64)")
    add("--time-steps", type=positive, default=256, help="time steps T (default 256)")
    add(
        "--samples",
        type=positive,
        help=f"training samples (default: {QUICK_SAMPLES} on the synthetic twin, all of real data)",
    )
    add("--epochs", type=positive, default=3, help="epochs; the first is the warm-up (default 3)")
    add("--seed", type=int, default=0, help="seed of weights, data and sample order")
    add("--fixed-beta", action="store_true", help="do not train beta (default: trained)")
    add("--surrogate", help="surrogate gradient (default: the task's, arctan for SHD)")
    add("--slope", type=float, help="surrogate slope k (default: the task's)")
    add("--lr", type=float, help="Adam learning rate (default: the task's, 5e-4 SHD, 2e-2 N-MNIST)")
    add("--evaluate", action="store_true", help="also measure test accuracy after training")
    add("--out", type=Path, help="results folder (default: results/<timestamp>-<task>-<device>)")
    datasets.add_data_arguments(parser)
    add("--timeout", type=float, default=3600, help="seconds per cell before it is stopped")


def cells_from_args(args: argparse.Namespace, device: str) -> list[Cell]:
    chosen = checked_frameworks(args.frameworks, frameworks.available())
    data = datasets.resolve_source(args.task, args.data, args.data_dir)
    samples = args.samples
    if samples is None and data == "synthetic":
        samples = QUICK_SAMPLES
    try:
        return [
            Cell(
                framework=name,
                task=args.task,
                device=device,
                hidden=args.hidden,
                width=args.width,
                neuron=args.neuron,
                time_steps=args.time_steps,
                batch_size=args.batch_size,
                n_samples=samples,
                epochs=args.epochs,
                seed=args.seed,
                train_beta=not args.fixed_beta,
                surrogate=args.surrogate,
                surrogate_slope=args.slope,
                learning_rate=args.lr,
                data=data,
                data_dir=args.data_dir,
                evaluate=args.evaluate,
            )
            for name in chosen
        ]
    except ValueError as error:
        raise SpikebenchError(str(error)) from None


def run(args: argparse.Namespace) -> int:
    device = best_device() if args.device == "auto" else args.device
    cells = cells_from_args(args, device)
    out = args.out or default_out(args.task, device)
    env = environment.capture()
    print(f"spikebench: {len(cells)} cell(s) on {device}; results in {out}", file=sys.stderr)
    rows = run_cells(cells, out, env, timeout=args.timeout)
    print(format_summary(rows))
    print(f"\nresults: {out / 'results.csv'}, {out / 'results.json'}")
    return 1 if any(row.status == "failed" for row in rows) else 0
