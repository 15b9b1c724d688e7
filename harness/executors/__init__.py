"""Executors: where the cell queue (harness/run.py) runs a cell. One module per back end.

- ``local`` (harness/executors/local.py): a fresh ``python -m harness.worker`` per cell on this
  machine, in its own process group so that a time-out or an interrupt ends all of it.
- ``submitit-local`` and ``slurm`` (harness/executors/submitit_jobs.py): the same worker inside a
  submitit job, on this machine or as one Slurm job per cell.

An executor offers ``slots()`` (where cells may run at once, one cell per slot) and
``submit(cell, slot, timeout)``, which starts the cell and returns a ``PendingCell``; the queue
polls it until it gives the cell's row, or cancels it on an interrupt.
"""

from __future__ import annotations

from typing import Protocol

from harness.cell import Cell
from harness.devices import Slot
from harness.results import Row


class PendingCell(Protocol):
    job_id: str

    def poll(self) -> Row | None:
        """The cell's row once it ended (ok, failed or skipped), None while it runs.

        Raises:
            SpikebenchError: the worker rejected the cell's input (missing data, say).
        """

    def cancel(self) -> None:
        """Ends the cell's processes (or job) and returns when they are gone."""


class Executor(Protocol):
    name: str
    runs_here: bool  # its cells run on this machine (their devices are this machine's)
    poll_s: float  # how often the queue polls running cells

    def slots(self) -> list[Slot]: ...

    def submit(self, cell: Cell, slot: Slot, *, timeout: float) -> PendingCell: ...
