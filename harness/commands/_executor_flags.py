"""The flags that choose where cells run: ``--executor``, ``--devices``, ``--max-parallel``,
``--wait`` and the ``--slurm-*`` options; ``run`` and ``reproduce`` take them all.

``executor_from_args`` builds the chosen executor through ``EXECUTORS``, the one table from
``--executor`` names to back ends (harness/executors/).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from harness import environment
from harness.commands._common import positive
from harness.devices import InvalidDevices, Slot, machine_slots, parse_device_list
from harness.errors import SpikebenchError
from harness.executors import Executor
from harness.executors.local import LocalExecutor

SUBMITIT_FOLDER = ".submitit"
"""Where, inside the results folder, submitit keeps its job files (pickles, logs, sbatch scripts)."""
_SLURM_FLAGS = (
    "slurm_partition", "slurm_time", "slurm_gpus_per_cell", "slurm_cpus_per_cell", "slurm_exclusive",
    "slurm_account", "slurm_qos", "slurm_option",
)  # fmt: skip


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"takes KEY=VALUE (an sbatch option), got {text!r}")
    return key.strip(), value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where cells run")
    add = group.add_argument
    add(
        "--executor",
        choices=sorted(EXECUTORS),
        default="local",
        help="local (default): one worker process per cell on this machine; submitit-local: the "
        "same through submitit's local executor; slurm: one Slurm job per cell",
    )
    add(
        "--devices",
        help="GPU indices for local executors, e.g. 0,1,2,3: one cell per GPU at a "
        "time, each seeing only its own (CUDA_VISIBLE_DEVICES); default: one cell at a time",
    )
    add(
        "--max-parallel",
        type=positive,
        help="at most this many cells at once (default: one per "
        "device; with slurm, every cell's job may be queued at once)",
    )
    add(
        "--wait",
        action="store_true",
        help="if another spikebench run writes into --out, wait for it instead of refusing",
    )
    slurm = parser.add_argument_group("slurm (with --executor slurm)")
    add = slurm.add_argument
    add("--slurm-partition", help="partition of each cell's job")
    add(
        "--slurm-time",
        help="time limit of each job, Slurm's format: 90, 1:30:00, 1-00:00 "
        "(default: --timeout plus 10 minutes)",
    )
    add("--slurm-gpus-per-cell", type=positive, default=1, help="GPUs per GPU cell's job (default 1)")
    add("--slurm-cpus-per-cell", type=positive, help="CPUs per job (default: the partition's)")
    add("--slurm-exclusive", action="store_true", help="each job takes a whole node")
    add("--slurm-account", help="account to charge (sbatch --account)")
    add("--slurm-qos", help="quality of service (sbatch --qos)")
    add(
        "--slurm-option",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other sbatch option, e.g. constraint=a100 or mem=64G (repeatable)",
    )


def _slots_here(args: argparse.Namespace, device: str) -> list[Slot]:
    devices = parse_device_list(args.devices) if args.devices is not None else None
    return machine_slots(device, devices, len(environment.gpus()))


def _local(args: argparse.Namespace, device: str, out: Path, n_cells: int) -> Executor:
    return LocalExecutor(_slots_here(args, device))


def _submitit_local(args: argparse.Namespace, device: str, out: Path, n_cells: int) -> Executor:
    from harness.executors.submitit_jobs import SubmititExecutor

    return SubmititExecutor(out / SUBMITIT_FOLDER, cluster="local", slots=_slots_here(args, device))


def _slurm(args: argparse.Namespace, device: str, out: Path, n_cells: int) -> Executor:
    from harness.executors.submitit_jobs import SlurmOptions, SubmititExecutor, parse_slurm_time

    if args.devices is not None:
        raise InvalidDevices(
            "--devices is for one machine; with --executor slurm each cell's job gets "
            "--slurm-gpus-per-cell GPUs from Slurm"
        )
    options = SlurmOptions(
        partition=args.slurm_partition,
        time_min=parse_slurm_time(args.slurm_time) if args.slurm_time else None,
        gpus_per_cell=args.slurm_gpus_per_cell,
        cpus_per_cell=args.slurm_cpus_per_cell,
        exclusive=args.slurm_exclusive,
        account=args.slurm_account,
        qos=args.slurm_qos,
        extra=dict(args.slurm_option),
    )
    slots = [Slot(f"slurm job {k}") for k in range(max(1, args.max_parallel or n_cells))]
    return SubmititExecutor(out / SUBMITIT_FOLDER, cluster="slurm", slots=slots, slurm=options)


EXECUTORS: dict[str, Callable[[argparse.Namespace, str, Path, int], Executor]] = {
    "local": _local,
    "submitit-local": _submitit_local,
    "slurm": _slurm,
}


def executor_from_args(args: argparse.Namespace, device: str, out: Path, n_cells: int) -> Executor:
    """The executor the flags choose, for ``n_cells`` cells on ``device`` saving into ``out``.

    Raises:
        SpikebenchError: ``--slurm-*`` without ``--executor slurm``, a bad device list, submitit
            or sbatch missing for the executor chosen (each one line).
    """
    defaults = {"slurm_gpus_per_cell": 1, "slurm_exclusive": False, "slurm_option": []}
    given = [n for n in _SLURM_FLAGS if getattr(args, n) != defaults.get(n)]
    if given and args.executor != "slurm":
        flag = "--" + given[0].replace("_", "-")
        raise SpikebenchError(f"{flag} applies to --executor slurm (this run's is {args.executor})")
    return EXECUTORS[args.executor](args, device, out, n_cells)


def run_options(args: argparse.Namespace) -> dict:
    """The keywords of ``harness.run.run_cells`` these flags set besides the executor."""
    return {"max_parallel": args.max_parallel, "wait": args.wait}
