"""The ``submitit-local`` and ``slurm`` executors: each cell one submitit job.

submitit pickles the submitted callable; it is ``run_cell_job``, a small top-level function that
runs the ordinary worker (``python -m harness.worker``) in a subprocess of the job, so JAX and
torch still never share a process and the per-cell ``--timeout`` still holds inside the job.
submitit is imported only here and only when one of these executors is chosen: the base install
(without the ``cluster`` extra) runs everything else.

submitit's local executor starts every submitted job at once, so the queue submits one job per
free slot, and each job gets its slot's GPU (``visible_gpus``). Under Slurm each cell is one
``sbatch`` job asking for ``gpus_per_cell`` GPUs of one node; Slurm confines it to them.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cell import Cell
from harness.devices import Slot
from harness.errors import SpikebenchError
from harness.results import Row

JOB_NAME = "spikebench"
STARTUP_MIN = 10
"""Minutes a job gets beyond the cell's ``--timeout``: start-up, imports, data loading."""
INTERRUPTING_STATES = ("PREEMPTED", "CANCELLED", "REQUEUED")
"""Slurm states of a job stopped from outside: its cell is interrupted (recomputed on resume), not
failed. Every other end without a row (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, FAILED...) is failed."""
CANCEL_WAIT_S = 15.0


class ClusterUnavailable(SpikebenchError):
    """The chosen executor cannot run here (submitit not installed, no ``sbatch``)."""


def _submitit() -> Any:
    try:
        import submitit
    except ImportError:
        raise ClusterUnavailable(
            "the submitit executors need submitit: pip install 'spikebench[cluster]' (or submitit>=1.5)"
        ) from None
    return submitit


def run_cell_job(cell_data: dict[str, Any], timeout: float, env: dict[str, str | None]) -> dict:
    """What a submitit job runs: the cell's worker in a subprocess, then ``{"row": row}``.

    ``env`` sets (or, with None, removes) the worker's variables, such as the slot's
    ``CUDA_VISIBLE_DEVICES``. Input the worker rejects comes back as ``{"user_error": message}``,
    so the runner reports it in one line as the local executor does.
    """
    from harness.executors.local import run_isolated

    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    try:
        row = run_isolated(Cell.from_dict(cell_data), timeout=timeout)
    except SpikebenchError as error:
        return {"user_error": str(error)}
    return {"row": row.as_dict()}


@dataclass(frozen=True)
class SlurmOptions:
    """What each cell's Slurm job asks for (``--slurm-*`` flags)."""

    partition: str | None = None
    time_min: int | None = None  # None: the cell's timeout plus STARTUP_MIN
    gpus_per_cell: int = 1  # for GPU cells; CPU cells ask for none
    cpus_per_cell: int | None = None
    exclusive: bool = False
    account: str | None = None
    qos: str | None = None
    extra: dict[str, str] = field(default_factory=dict)  # any other sbatch option, passed through

    def parameters(self, cell: Cell, timeout: float) -> dict[str, Any]:
        """``SlurmExecutor.update_parameters`` keywords for ``cell``'s job."""
        chosen = {
            "job_name": JOB_NAME,
            "nodes": 1,
            "ntasks_per_node": 1,
            "time": self.time_min or job_minutes(timeout),
            "gpus_per_node": self.gpus_per_cell if cell.device == "gpu" else None,
            "cpus_per_task": self.cpus_per_cell,
            "partition": self.partition,
            "exclusive": self.exclusive or None,
            "account": self.account,
            "qos": self.qos,
            "additional_parameters": dict(self.extra) or None,
        }
        return {k: v for k, v in chosen.items() if v is not None}


def job_minutes(timeout: float) -> int:
    return math.ceil(timeout / 60) + STARTUP_MIN


_SLURM_TIME = re.compile(r"(?:(?P<days>\d+)-)?(?P<a>\d+)(?::(?P<b>\d+))?(?::(?P<c>\d+))?")


def parse_slurm_time(text: str) -> int:
    """Slurm's ``--time`` in whole minutes: ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH[:MM[:SS]]``.

    Raises:
        SpikebenchError: not one of those formats, or zero.
    """
    match = _SLURM_TIME.fullmatch(text.strip())
    if not match:
        raise SpikebenchError(
            f"--slurm-time takes Slurm's time formats (90, 1:30:00, 1-00:00), got {text!r}"
        )
    days, a, b, c = (int(v) if v else 0 for v in match.group("days", "a", "b", "c"))
    if match["days"] is not None:
        minutes = days * 24 * 60 + a * 60 + b + c / 60
    elif match["c"] is not None:
        minutes = a * 60 + b + c / 60
    else:
        minutes = a + b / 60
    if minutes <= 0:
        raise SpikebenchError(f"--slurm-time must be positive, got {text!r}")
    return math.ceil(minutes)


class SubmititCell:
    """One cell's submitit job; a ``PendingCell``."""

    def __init__(self, cell: Cell, slot: Slot, job: Any, *, cluster: str) -> None:
        self.cell, self.slot, self.job, self.cluster = cell, slot, job, cluster
        self.job_id = str(job.job_id)

    def poll(self) -> Row | None:
        if not self.job.done():
            return None
        submitit = _submitit()
        try:
            outcome = self.job.result()
        except submitit.core.utils.FailedJobError as error:
            return self._row("failed", f"{self._job()} failed: {_last_line(str(error))}")
        except submitit.core.utils.UncompletedJobError:
            state = str(self.job.state)
            status = "interrupted" if state.startswith(INTERRUPTING_STATES) else "failed"
            return self._row(status, f"{self._job()} ended without a row (state {state})")
        if "user_error" in outcome:
            raise SpikebenchError(outcome["user_error"])
        row = Row.from_dict(outcome["row"])
        row.job_id = self.job_id
        return row

    def cancel(self) -> None:
        """Cancels the job and, for a local one, waits until its processes are gone."""
        self.job.cancel(check=False)
        if self.cluster != "local":
            return
        deadline = time.monotonic() + CANCEL_WAIT_S
        process = getattr(self.job, "_process", None)
        while process is not None and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)

    def _job(self) -> str:
        return f"{self.cluster} job {self.job_id}"

    def _row(self, status: str, reason: str) -> Row:
        host = socket.gethostname() if self.cluster == "local" else ""
        return Row.for_cell(
            self.cell,
            status=status,
            reason=reason[:500],
            host=host,
            job_id=self.job_id,
            device_index=self.slot.device_index,
        )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


class SubmititExecutor:
    """``--executor submitit-local`` (``cluster="local"``) or ``--executor slurm``.

    Job files (pickles, logs, the Slurm scripts) go to ``folder/<job id>/``.
    """

    poll_s = 0.2

    def __init__(
        self, folder: Path, *, cluster: str, slots: list[Slot], slurm: SlurmOptions | None = None
    ) -> None:
        if cluster == "slurm" and shutil.which("sbatch") is None:
            raise ClusterUnavailable(
                "--executor slurm needs Slurm's sbatch, which is not on PATH here: run on a Slurm "
                "login node, or use --executor local or submitit-local"
            )
        submitit = _submitit()
        self.name = "slurm" if cluster == "slurm" else "submitit-local"
        self.runs_here = cluster == "local"
        self.cluster, self._slots, self.slurm = cluster, slots, slurm or SlurmOptions()
        job_folder = Path(folder) / "%j"
        if cluster == "slurm":
            self._executor = submitit.SlurmExecutor(folder=job_folder)
        else:
            self._executor = submitit.LocalExecutor(folder=job_folder)

    def slots(self) -> list[Slot]:
        return list(self._slots)

    def submit(self, cell: Cell, slot: Slot, *, timeout: float) -> SubmititCell:
        if self.cluster == "slurm":
            self._executor.update_parameters(**self.slurm.parameters(cell, timeout))
            env: dict[str, str | None] = {}  # Slurm confines the job to its GPUs
        else:
            gpus = slot.visible_gpus or ()
            self._executor.update_parameters(
                timeout_min=job_minutes(timeout), gpus_per_node=len(gpus), visible_gpus=gpus
            )
            # submitit sets CUDA_VISIBLE_DEVICES to the slot's GPUs; an unconfined slot keeps ours
            env = slot.env() or {"CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES")}
        job = self._executor.submit(run_cell_job, cell.as_dict(), timeout, env)
        return SubmititCell(cell, slot, job, cluster=self.cluster)
