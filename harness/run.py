"""Runs cells, each in its own worker process with a time limit, and saves rows as they finish."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from tqdm import tqdm

from harness.cell import Cell
from harness.errors import SpikebenchError
from harness.results import Row, read_results, write_results

RESULTS_ROOT = Path("results")


def default_out(task: str, device: str) -> Path:
    """A new timestamped folder under ``results/``."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return RESULTS_ROOT / f"{stamp}-{task}-{device}"


def _worker_env(device: str, checkout: Path | None, base: Mapping[str, str]) -> dict[str, str]:
    env = dict(base)
    if checkout is not None:  # the checkout's harness, frameworks and spyx_core, not this one's
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(checkout), env.get("PYTHONPATH")]))
    env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"  # measure what is used, not a 75% pool
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if device == "cpu":
        env["JAX_PLATFORMS"] = "cpu"  # never initialise an accelerator for a CPU cell
    return env


def _failed(cell: Cell, reason: str) -> Row:
    return Row.for_cell(cell, status="failed", reason=reason)


def _exit_reason(code: int, stderr: str) -> str:
    if code < 0:
        name = signal.Signals(-code).name
        hint = " (out of memory?)" if -code == signal.SIGKILL else ""
        return f"worker killed by {name}{hint}"
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return f"worker exited with {code}: {lines[-1] if lines else 'no message'}"[:500]


def run_isolated(
    cell: Cell,
    *,
    timeout: float,
    checkout: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Row:
    """Runs ``cell`` in a fresh Python process; a crash, kill or time-out becomes a failed row.

    ``checkout``: run another source tree's worker (``spikebench compare --interleave``), in that
    folder with it first on ``PYTHONPATH``. ``environ``: the environment to start from (default
    this process's).

    Raises:
        SpikebenchError: the worker rejected the cell's input (exit status 2), e.g. missing data.
    """
    with tempfile.TemporaryDirectory(prefix="spikebench-") as tmp:
        cell_path, row_path = Path(tmp, "cell.json"), Path(tmp, "row.json")
        cell_path.write_text(json.dumps(cell.as_dict()))
        command = [sys.executable, "-m", "harness.worker", str(cell_path), str(row_path)]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=checkout,
                env=_worker_env(cell.device, checkout, os.environ if environ is None else environ),
            )
        except subprocess.TimeoutExpired:
            return _failed(cell, f"timed out after {timeout:g} s")
        if row_path.exists():
            return Row.from_dict(json.loads(row_path.read_text()))
        if done.returncode == 2 and "spikebench:" in done.stderr:
            raise SpikebenchError(done.stderr.strip().splitlines()[-1].removeprefix("spikebench: "))
        return _failed(cell, _exit_reason(done.returncode, done.stderr))


def _previous(out: Path, environment: dict) -> tuple[dict[str, Row], dict]:
    """Rows already in ``out`` by cell key, and the environment to store (resumes are appended)."""
    if not (out / "results.json").exists():
        return {}, environment
    rows, first = read_results(out)
    resumed = [*first.get("resumed", []), environment]
    return {row.cell_key: row for row in rows if row.cell_key}, {**first, "resumed": resumed}


def run_cells(
    cells: list[Cell],
    out: Path,
    environment: dict,
    *,
    timeout: float = 3600,
    retry_failed: bool = False,
    runner: Callable[..., Row] = run_isolated,
) -> list[Row]:
    """Runs every cell not already finished in ``out``, rewriting its results after each one.

    Re-running on the same ``out`` resumes: a cell whose key has a row there is kept, not
    recomputed (failed ones too, unless ``retry_failed``). Returns the rows of ``cells`` in order.
    """
    done, environment = _previous(out, environment)
    todo = [
        cell
        for cell in cells
        if cell.key() not in done or (retry_failed and done[cell.key()].status == "failed")
    ]
    if len(todo) < len(cells):
        tqdm.write(f"resuming {out}: {len(cells) - len(todo)} cell(s) already finished")
    with tqdm(todo, unit="cell", file=sys.stderr, dynamic_ncols=True) as progress:
        for cell in progress:
            progress.set_postfix_str(cell.label())
            row = runner(cell, timeout=timeout)
            done[cell.key()] = row
            write_results(out, list(done.values()), environment)
            detail = f"{row.epoch_s_median:.3f} s/epoch" if row.epoch_s_median else row.reason
            progress.write(f"{row.status:>7}  {cell.label()}  {detail}")
    return [done[cell.key()] for cell in cells]
