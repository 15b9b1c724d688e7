"""The ``local`` executor: each cell in a fresh worker process on this machine.

The worker runs in a new session (its own process group): a time-out or an interrupt of the
runner ends the whole group, so nothing of a cell outlives it. The worker also asks the kernel to
kill it if its parent dies (``harness.worker``), for runners killed without a chance to clean up.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from harness.cell import Cell
from harness.devices import Slot
from harness.errors import SpikebenchError
from harness.results import Row

PARENT_ENV = "SPIKEBENCH_PARENT_PID"
"""The runner's pid, for the worker's parent-death signal (``harness.worker``)."""
STOP_GRACE_S = 3.0
"""Seconds between SIGTERM and SIGKILL to a worker's process group."""


def worker_env(
    device: str,
    slot: Slot | None = None,
    *,
    checkout: Path | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a worker for a cell on ``device`` in ``slot``, from ``base`` (default
    this process's); with ``checkout``, that source tree's harness, frameworks and spyx_core."""
    env = dict(os.environ if base is None else base)
    if checkout is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(checkout), env.get("PYTHONPATH")]))
    env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"  # measure what is used, not a 75% pool
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if device == "cpu":
        env["JAX_PLATFORMS"] = "cpu"  # never initialise an accelerator for a CPU cell
    env[PARENT_ENV] = str(os.getpid())
    return env | (slot.env() if slot else {})


def exit_reason(code: int, stderr: str) -> str:
    if code < 0:
        name = signal.Signals(-code).name
        hint = " (out of memory?)" if -code == signal.SIGKILL else ""
        return f"worker killed by {name}{hint}"
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return f"worker exited with {code}: {lines[-1] if lines else 'no message'}"[:500]


def stamped(row: Row, *, job_id: str, device_index: str) -> Row:
    """``row`` with where it ran filled in where the worker could not say."""
    row.job_id = row.job_id or job_id
    row.host = row.host or socket.gethostname()
    row.device_index = row.device_index or device_index
    return row


class WorkerProcess:
    """One cell's worker process, started at construction; a ``PendingCell``."""

    def __init__(
        self,
        cell: Cell,
        slot: Slot,
        *,
        timeout: float,
        env: dict[str, str] | None = None,
        checkout: Path | None = None,
        environ: Mapping[str, str] | None = None,
    ):
        self.cell, self.slot, self.timeout = cell, slot, timeout
        self._folder = tempfile.TemporaryDirectory(prefix="spikebench-")
        tmp = Path(self._folder.name)
        self._row_path, self._stderr_path = tmp / "row.json", tmp / "stderr.txt"
        (tmp / "cell.json").write_text(json.dumps(cell.as_dict()))
        command = [sys.executable, "-m", "harness.worker", str(tmp / "cell.json"), str(self._row_path)]
        env = worker_env(cell.device, slot, checkout=checkout, base=environ) | (env or {})
        # what the worker records itself (harness.worker), for the rows made here
        self.device_index = env.get("CUDA_VISIBLE_DEVICES", "") if cell.device == "gpu" else ""
        with self._stderr_path.open("w") as stderr:
            self.process = subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
                cwd=checkout,
                start_new_session=True,  # its own process group, ended as one
            )
        self.job_id = f"local-{self.process.pid}"
        self._deadline = time.monotonic() + timeout

    def poll(self) -> Row | None:
        code = self.process.poll()
        if code is None and time.monotonic() < self._deadline:
            return None
        if code is None:
            self._end()
            return self._finish(Row.for_cell(self.cell, status="failed", reason=self._timed_out()))
        self._end()  # whatever the worker left running in its group
        if self._row_path.exists():
            return self._finish(Row.from_dict(json.loads(self._row_path.read_text())))
        stderr = self._stderr_path.read_text(errors="replace")
        self._folder.cleanup()
        if code == 2 and "spikebench:" in stderr:
            raise SpikebenchError(stderr.strip().splitlines()[-1].removeprefix("spikebench: "))
        return self._finish(Row.for_cell(self.cell, status="failed", reason=exit_reason(code, stderr)))

    def cancel(self) -> None:
        self._end()
        self._folder.cleanup()

    def _timed_out(self) -> str:
        return f"timed out after {self.timeout:g} s"

    def _finish(self, row: Row) -> Row:
        self._folder.cleanup()
        return stamped(row, job_id=self.job_id, device_index=self.device_index)

    def _end(self) -> None:
        """SIGTERM to the worker's group, SIGKILL after ``STOP_GRACE_S``; returns when it exited."""
        for sig, grace in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, None)):
            try:
                os.killpg(self.process.pid, sig)
            except (ProcessLookupError, PermissionError):
                break
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                continue
            if sig == signal.SIGTERM:
                _kill_group(self.process.pid)  # the worker went; anything it started goes too
            break


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run_isolated(
    cell: Cell,
    *,
    timeout: float,
    slot: Slot | None = None,
    poll_s: float = 0.05,
    checkout: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Row:
    """Runs ``cell`` in a fresh worker process and waits; a crash, kill or time-out is a failed row.

    An interrupt (KeyboardInterrupt) ends the worker before it propagates. ``checkout``: run another
    source tree's worker (``spikebench compare --interleave``), in that folder with it first on
    ``PYTHONPATH``. ``environ``: the environment to start from (default this process's).

    Raises:
        SpikebenchError: the worker rejected the cell's input (exit status 2), e.g. missing data.
    """
    worker = WorkerProcess(
        cell, slot or Slot(cell.device), timeout=timeout, checkout=checkout, environ=environ
    )
    try:
        while (row := worker.poll()) is None:
            time.sleep(poll_s)
    except BaseException:
        worker.cancel()
        raise
    return row


class LocalExecutor:
    """``--executor local``: worker processes on this machine, one per slot at a time."""

    name = "local"
    runs_here = True
    poll_s = 0.05

    def __init__(self, slots: list[Slot]) -> None:
        self._slots = slots

    def slots(self) -> list[Slot]:
        return list(self._slots)

    def submit(self, cell: Cell, slot: Slot, *, timeout: float) -> WorkerProcess:
        return WorkerProcess(cell, slot, timeout=timeout)
