"""Agreement along the whole training run: each framework's per-step losses against the reference's.

Every training row keeps the loss of each of its steps, all epochs, the warm-up included
(``Row.loss_steps``). Rows of the same configuration (``Row.config_key``) saw the same weights and
batches, so an exact framework's loss trace should follow the reference's step by step. Where it
parts, two things can have happened, and the shape of the deviation tells them apart:

- **rounding drift**: float32 sums taken in another order differ by ulps, a neuron near its
  threshold flips a spike, and from then on the runs separate slowly. The relative deviation
  ``|loss - ref| / |ref|`` starts at rounding level (about 1e-7) and grows by small factors from
  step to step; it shows between spyx_core's own implementations too.
- **semantic departure**: the two compute different models from some step on (a decay left the
  domain an adapter can express, a reset vanished), and the deviation jumps by orders of
  magnitude from one step to the next, or is there from the first step.

``trace_agreement`` finds the first step beyond ``rtol`` and calls it a ``departure`` when the
deviation there is at least ``JUMP`` times the largest deviation before it (or at least
``1e-7 * JUMP``, or at step 0), a ``drift`` otherwise; a NaN or infinite loss in the trace is a
departure at its first step.

A sudden jump is what a semantic departure looks like, but a chaotic one looks the same: a single
spike flipping at its threshold (float32 rounding in another order puts a membrane on the other
side) separates two runs from then on. So every departing row also names the other frameworks
whose traces agree with its own throughout (``agrees_with``): when the torch frameworks part from
spyx_core at one step with one deviation and follow each other to the last step, that is one
difference between the reference and all of them (JAX's rounding against torch's, or a model
difference they all share), to be checked at the weights reached (``spikebench check-adapter``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.errors import SpikebenchError
from harness.results import REFERENCE, Row

RTOL = 1e-4
"""Relative loss deviation beyond which two traces have parted (the first-step loss tolerance)."""
JUMP = 100.0
"""How many times the earlier deviations a step's deviation must be to count as sudden."""
_ROUNDING = 1e-7


@dataclass(frozen=True)
class Agreement:
    """How one loss trace follows the reference's.

    Attributes:
        verdict: ``"agree"``, ``"drift"`` or ``"departure"``.
        steps: the number of steps compared (the shorter trace's length).
        first_step: the first step beyond ``rtol`` (None when they agree).
        deviation: the relative deviation at ``first_step`` (agree: the largest one).
        max_deviation: the largest relative deviation over all compared steps.
        reason: what the verdict rests on, one line.
    """

    verdict: str
    steps: int
    first_step: int | None
    deviation: float
    max_deviation: float
    reason: str


def trace_agreement(reference: np.ndarray, trace: np.ndarray, rtol: float = RTOL) -> Agreement:
    """Compares ``trace`` with ``reference`` step by step (module docstring)."""
    steps = min(len(reference), len(trace))
    reference = np.asarray(reference[:steps], np.float64)
    trace = np.asarray(trace[:steps], np.float64)
    bad = np.flatnonzero(~np.isfinite(trace) | ~np.isfinite(reference))
    if bad.size:
        step = int(bad[0])
        return Agreement(
            "departure", steps, step, float("nan"), float("nan"), f"non-finite loss at step {step}"
        )
    deviation = np.abs(trace - reference) / np.maximum(np.abs(reference), np.finfo(np.float32).tiny)
    largest = float(deviation.max()) if steps else 0.0
    beyond = np.flatnonzero(deviation > rtol)
    if not beyond.size:
        return Agreement("agree", steps, None, largest, largest, f"within {rtol:g} over {steps} steps")
    step = int(beyond[0])
    before = float(deviation[:step].max()) if step else 0.0
    jump = float(deviation[step]) / max(before, _ROUNDING)
    sudden = step == 0 or jump >= JUMP
    how = "from the first step" if step == 0 else f"{jump:.3g}x the largest deviation before it"
    return Agreement(
        "departure" if sudden else "drift",
        steps,
        step,
        float(deviation[step]),
        largest,
        f"beyond {rtol:g} at step {step}: {deviation[step]:.2g}, {how}",
    )


def trajectories(rows: list[Row], *, reference: str = REFERENCE, rtol: float = RTOL) -> pd.DataFrame:
    """One line per ok training row with a loss trace and a reference row of the same
    configuration: its ``Agreement`` with the reference's trace, and whether it is exact.

    Raises:
        SpikebenchError: ``reference`` is no framework of ``rows``, or ``rtol`` is not positive.
    """
    if not rtol > 0:
        raise SpikebenchError(f"the trajectory tolerance must be positive, got {rtol}")
    traced = [r for r in rows if r.status == "ok" and r.loss_steps]
    frameworks = sorted({r.framework for r in traced})
    if traced and reference not in frameworks:
        known = ", ".join(frameworks)
        raise SpikebenchError(f"reference {reference!r} has no trained row here; frameworks: {known}")
    references = {r.config_key(): r for r in traced if r.framework == reference}
    lines = []
    for row in traced:
        ref = references.get(row.config_key())
        if ref is None or row is ref:
            continue
        trace, against = np.asarray(row.loss_steps), np.asarray(ref.loss_steps)
        found = trace_agreement(against, trace, rtol)
        steps = found.steps
        deviation = np.abs(trace[:steps] - against[:steps]) / np.maximum(np.abs(against[:steps]), 1e-30)
        lines.append(
            {
                "framework": row.framework,
                "exact": not row.semantics,
                **vars(found),
                "row": row,
                "reference_row": ref,
                "reference_deviation": deviation,
            }
        )
    table = pd.DataFrame(lines)
    if not table.empty:
        table["agrees_with"] = [_companions(table, i, rtol) for i in range(len(table))]
    table.attrs["rtol"] = rtol
    return table


def _companions(table: pd.DataFrame, index: int, rtol: float) -> list[str]:
    """The other compared frameworks of the same configuration whose loss trace agrees with row
    ``index``'s over the whole run: a departure they share from the reference alone is one
    difference (the reference's rounding, or one model against another), not one per framework."""
    row = table.row.iloc[index]
    found = []
    for other in table.row:
        if other is row or other.config_key() != row.config_key():
            continue
        if (
            trace_agreement(np.asarray(other.loss_steps), np.asarray(row.loss_steps), rtol).verdict
            == "agree"
        ):
            found.append(other.framework)
    return found


def format_trajectories(rows: list[Row], *, reference: str = REFERENCE, rtol: float = RTOL) -> str:
    """The summary's lines on trajectory agreement (a run with one framework says so)."""
    traced = [r for r in rows if r.status == "ok" and r.loss_steps]
    if len({r.framework for r in traced}) < 2:
        return "loss trajectories: one framework in this run, nothing to compare"
    if reference not in {r.framework for r in traced}:
        return f"loss trajectories: no {reference} row to compare with"
    table = trajectories(rows, reference=reference, rtol=rtol)
    lines = [f"loss trajectories against {reference} (relative tolerance {rtol:g}):"]
    for _, line in table.iterrows():
        label = "" if line.exact else " (declared inexact)"
        shared = (
            f"; agrees throughout with {', '.join(line.agrees_with)}"
            if line.first_step is not None and line.agrees_with
            else ""
        )
        lines.append(f"  {line.framework}{label}: {line.verdict}: {line.reason}{shared}")
    return "\n".join(lines)
