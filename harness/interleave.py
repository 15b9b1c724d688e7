"""Base and head checkouts timed in alternation, cell by cell, each sample a fresh process.

``interleave`` runs every cell ``rounds`` times in each checkout, in the order base, head, base,
head, ... (so that a load change on a shared machine hits both sides alike), each run a fresh
``python -m harness.worker`` of that checkout (``harness.run.run_isolated``). Each side's rows go to
its own results folder, one row per process; ``harness.compare.folder_samples`` takes each row's
median as one sample. ``MIN_ROUNDS`` is the fewest a side for which the two-sided Mann-Whitney U
test can reach p < 0.002 at all (2 / C(14, 7) = 0.00058; 6 + 6 gives at best 0.0022).

After the last round, the device's limits (``harness.limits``: peak and dense floors) are measured
once, in a worker of its own with nothing being timed, and filled into both sides' rows: the floor
is the device's and the shapes', the same for either checkout, so each side's time over it reads
against one measurement.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from harness import limits
from harness.cell import Cell
from harness.devices import Slot
from harness.errors import InvalidConfiguration
from harness.results import CONFIG_FIELDS, REFERENCE, Row, read_results, write_results
from harness.run import run_isolated
from harness.worker import TEST_SLOWDOWN_ENV

MIN_ROUNDS = 7
ROUNDS = 10
"""Samples (fresh processes) a side by default: one overlap between the sides still decides."""
CI_FRAMEWORKS = (REFERENCE, "snntorch", "norse")
SIDES = ("base", "head")


def ci_cells(names: list[str], device: str) -> list[Cell]:
    """The default cells: SHD's network at H=128, B=64, T=64 on 256 synthetic samples, one warm-up
    and two timed epochs (a few seconds per process on two CPU cores)."""
    return [
        Cell(framework=name, task="shd", device=device, hidden=128, batch_size=64, time_steps=64,
             channels=128, n_samples=256, epochs=3, data="synthetic")
        for name in names
    ]  # fmt: skip


def cells_of(folder: Path) -> list[Cell]:
    """The cells of a results folder's rows (each once), to run them again."""
    rows, _ = read_results(folder)
    cells = {}
    for row in rows:
        config = {name: getattr(row, name) for name in CONFIG_FIELDS}
        if row.task == "micro":  # a micro row records the epochs and samples it did not use
            config |= {"epochs": 1, "n_samples": None}
        cell = Cell(**config)
        cells.setdefault(cell.key(), cell)
    return list(cells.values())


def side_environ(side: str) -> dict[str, str]:
    """The workers' environment: the test-only slow-down reaches the head side alone."""
    if side == "head":
        return dict(os.environ)
    return {k: v for k, v in os.environ.items() if k != TEST_SLOWDOWN_ENV}


def interleave(
    cells: list[Cell],
    checkouts: dict[str, Path],
    out: Path,
    environment: dict,
    *,
    rounds: int = ROUNDS,
    timeout: float = 3600.0,
    runner: Callable[..., Row] = run_isolated,
    limit_options: limits.LimitOptions | None = None,
    measure: Callable[..., dict] = limits.measure_missing,
) -> dict[str, Path]:
    """Runs each cell ``rounds`` times a side, alternating the sides; returns each side's folder.

    With ``limit_options``, the limits are measured after the rounds (``measure``, by default
    ``harness.limits.measure_missing``) and filled into every row of both folders.

    Raises:
        InvalidConfiguration: fewer than ``MIN_ROUNDS`` rounds, a checkout without a harness, or
            results already in ``out`` (never overwritten).
    """
    if rounds < MIN_ROUNDS:
        raise InvalidConfiguration(
            f"--rounds must be at least {MIN_ROUNDS}: with fewer samples a side the test can never "
            f"reach p < 0.002, got {rounds}"
        )
    for side in SIDES:
        if not (checkouts[side] / "harness" / "worker.py").is_file():
            raise InvalidConfiguration(f"{side} checkout {checkouts[side]} has no harness/worker.py")
    folders = {side: out / side for side in SIDES}
    for folder in folders.values():
        if (folder / "results.json").exists():
            raise InvalidConfiguration(f"{folder} holds results already; choose another --out")
    rows: dict[str, list[Row]] = {side: [] for side in SIDES}
    for cell in cells:
        for index in range(rounds):
            for side in SIDES:
                row = runner(cell, timeout=timeout, checkout=checkouts[side], environ=side_environ(side))
                rows[side].append(row)
                write_results(folders[side], rows[side], _side_env(environment, checkouts, side))
                print(f"{side} {index + 1}/{rounds} {row.status:>7} {cell.label()}", file=sys.stderr)
    if limit_options is not None and cells:
        environment = _fill_limits(rows, environment, cells[0].device, limit_options, measure)
        for side in SIDES:
            write_results(folders[side], rows[side], _side_env(environment, checkouts, side))
    return folders


def _side_env(environment: dict, checkouts: dict[str, Path], side: str) -> dict:
    return environment | {"checkout": str(checkouts[side]), "side": side}


def _fill_limits(
    rows: dict[str, list[Row]],
    environment: dict,
    device: str,
    options: limits.LimitOptions,
    measure: Callable[..., dict],
) -> dict:
    """The environment with ``device``'s limits for every side's rows, measured once, and each
    row completed with them; unchanged (rows keep their times) when the measuring worker fails."""
    every = [row for side in SIDES for row in rows[side]]
    try:
        environment = measure(every, environment, device, Slot(device), options)
    except RuntimeError as error:
        print(f"limits not measured: {error}", file=sys.stderr)
        return environment
    for row in every:
        limits.fill(row, environment, device)
    return environment
