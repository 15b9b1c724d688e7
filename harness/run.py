"""The cell queue: runs cells through an executor, one per slot at a time, and saves rows as they end.

The results folder is locked for the run (harness/lock.py); every save re-reads the folder's rows
and merges this run's into them, each file replaced atomically, so no row another run wrote is
ever dropped. SIGINT or SIGTERM ends the running cells' processes (or cancels their jobs) before
the runner exits; those cells are saved as ``interrupted`` and a resumed run recomputes them.
"""

from __future__ import annotations

import datetime as dt
import functools
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from tqdm import tqdm

from harness import claims, limits
from harness.cell import Cell
from harness.devices import Slot
from harness.errors import SpikebenchError
from harness.executors import Executor, PendingCell
from harness.executors.local import LocalExecutor, run_isolated
from harness.lock import FolderLock
from harness.results import Row, read_results, write_results

__all__ = ["RESULTS_ROOT", "default_out", "run_cells", "run_isolated"]

RESULTS_ROOT = Path("results")
INTERRUPTED = "the run was interrupted while the cell ran; a resumed run recomputes it"


def default_out(task: str, device: str) -> Path:
    """A new timestamped folder under ``results/``."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return RESULTS_ROOT / f"{stamp}-{task}-{device}"


def _previous(out: Path, environment: dict) -> tuple[dict[str, Row], dict]:
    """Rows already in ``out`` by cell key, and the environment to store (resumes are appended)."""
    if not (out / "results.json").exists():
        return {}, environment
    rows, first = read_results(out)
    resumed = [*first.get("resumed", []), environment]
    return {row.cell_key: row for row in rows if row.cell_key}, {**first, "resumed": resumed}


def _needs_running(row: Row | None, retry_failed: bool) -> bool:
    return row is None or row.status == "interrupted" or (retry_failed and row.status == "failed")


class _Results:
    """The folder's rows: those found there and this run's, merged into the files on each save."""

    def __init__(self, out: Path, environment: dict) -> None:
        self.out = out
        self.rows, self.environment = _previous(out, environment)
        self.written: dict[str, Row] = {}

    def record(self, cell: Cell, row: Row) -> None:
        self.rows[cell.key()] = self.written[cell.key()] = row
        merged = {}
        if (self.out / "results.json").exists():  # rows another run saved since are kept
            merged = {r.cell_key: r for r in read_results(self.out)[0] if r.cell_key}
        merged = {**self.rows, **merged, **self.written}
        self.rows = merged
        write_results(self.out, list(merged.values()), self.environment)

    def rewrite(self, environment: dict, fill: Callable[[Row], None]) -> None:
        """Saves ``environment`` and every row of the folder after ``fill(row)`` changed it."""
        if (self.out / "results.json").exists():
            found = {r.cell_key: r for r in read_results(self.out)[0] if r.cell_key}
            self.rows = {**self.rows, **found, **self.written}
        for row in self.rows.values():
            fill(row)
        self.environment = environment
        write_results(self.out, list(self.rows.values()), environment)


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt, as SIGINT does, so both end the workers the same way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _signals_ignored() -> Iterator[None]:
    """While running cells are ended: a second Ctrl-C must not leave one of them behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _detail(row: Row) -> str:
    return f"{row.epoch_s_median:.3f} s/epoch" if row.epoch_s_median else row.reason


def _run_queue(
    todo: list[Cell], executor: Executor, results: _Results, timeout: float, max_parallel: int | None
) -> None:
    """Runs ``todo``, at most one cell per slot (and ``max_parallel``) at a time."""
    slots = executor.slots()[:max_parallel] if max_parallel else executor.slots()
    free: deque[Slot] = deque(slots)
    waiting: deque[Cell] = deque(todo)
    running: dict[Slot, tuple[Cell, PendingCell]] = {}
    with tqdm(total=len(todo), unit="cell", file=sys.stderr, dynamic_ncols=True) as progress:
        try:
            while waiting or running:
                while free and waiting:
                    slot, cell = free.popleft(), waiting.popleft()
                    running[slot] = (cell, executor.submit(cell, slot, timeout=timeout))
                    progress.set_postfix_str(cell.label())
                ended = False
                for slot, (cell, pending) in list(running.items()):
                    try:
                        row = pending.poll()
                    except SpikebenchError:
                        del running[slot]  # its worker has exited; the others are ended below
                        raise
                    if row is None:
                        continue
                    del running[slot]
                    free.append(slot)
                    results.record(cell, row)
                    progress.update()
                    progress.write(f"{row.status:>7}  {cell.label()}  {_detail(row)}")
                    ended = True
                if not ended:
                    time.sleep(executor.poll_s)
        except BaseException:
            with _signals_ignored():
                _interrupt(running, results)
            raise


def _interrupt(running: dict[Slot, tuple[Cell, PendingCell]], results: _Results) -> None:
    """Ends every running cell, then saves each as interrupted."""
    for _, pending in running.values():
        pending.cancel()
    for slot, (cell, pending) in running.items():
        row = Row.for_cell(cell, status="interrupted", reason=INTERRUPTED, job_id=pending.job_id)
        row.device_index = slot.device_index
        results.record(cell, row)
        tqdm.write(f"interrupted  {cell.label()}")


def _measure_limits(
    results: _Results, device: str, executor: Executor, options: limits.LimitOptions
) -> None:
    """The device's peak and dense floors for the folder's rows (``harness.limits``), measured in
    one worker process after the last cell has ended, then filled into the rows.

    After the cells and in a process of its own, so that timings stay honest: no cell is being
    timed while it runs (the queue has ended; no slot is busy), and the runner never starts JAX or
    an accelerator itself, whose runtime, threads and memory pool would otherwise sit beside every
    cell it times. Not before the cells: an op's shape is known once a worker has built the spec
    from the data it loaded (a real dataset's channels and frame size decide it).
    """
    if not executor.runs_here:
        tqdm.write(f"limits not measured: the cells ran on {executor.name}'s machines, not here")
        return
    rows = list(results.rows.values())
    if not limits.measurable(rows, device):
        return
    try:
        environment = limits.measure_missing(
            rows, results.environment, device, executor.slots()[0], options
        )
    except RuntimeError as error:  # the rows keep their times; only the limits are missing
        tqdm.write(f"limits not measured: {error}", file=sys.stderr)
        return
    results.rewrite(environment, functools.partial(limits.fill, environment=environment, device=device))


def run_cells(
    cells: list[Cell],
    out: Path,
    environment: dict,
    *,
    timeout: float = 3600,
    retry_failed: bool = False,
    executor: Executor | None = None,
    max_parallel: int | None = None,
    wait: bool = False,
    limit_options: limits.LimitOptions | None = None,
) -> list[Row]:
    """Runs every cell not already finished in ``out``, saving its row as soon as it ends.

    Re-running on the same ``out`` resumes, with any executor: a cell whose key has a row there is
    kept, not recomputed (failed ones too, unless ``retry_failed``; interrupted ones never).

    Args:
        executor: where cells run (default: ``LocalExecutor``, one worker process at a time).
        max_parallel: at most this many cells at once (default: one per executor slot).
        wait: if another run holds ``out``, wait for it instead of refusing.
        limit_options: measure the device's limits after the cells and fill them into the rows
            (``_measure_limits``); None leaves them unmeasured.

    Returns:
        The rows of ``cells``, in order.

    Raises:
        harness.lock.FolderBusy: another run holds ``out`` (and not ``wait``).
        KeyboardInterrupt: SIGINT or SIGTERM; running cells were ended and saved as interrupted.
    """
    executor = executor or LocalExecutor([Slot(cells[0].device if cells else "cpu")])
    with FolderLock(out, wait=wait), _terminate_as_interrupt():
        results = _Results(out, environment)
        todo = [cell for cell in cells if _needs_running(results.rows.get(cell.key()), retry_failed)]
        if len(todo) < len(cells):
            tqdm.write(f"resuming {out}: {len(cells) - len(todo)} cell(s) already finished")
        device = cells[0].device if cells else "cpu"
        claim = claims.claimed(device, executor.slots(), out) if executor.runs_here else nullcontext([])
        with claim as others:
            for other in others:
                tqdm.write(claims.warning(other), file=sys.stderr)
            _run_queue(todo, executor, results, timeout, max_parallel)
            if limit_options is not None:
                _measure_limits(results, device, executor, limit_options)
        return [results.rows[cell.key()] for cell in cells]
