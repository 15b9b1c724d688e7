"""Every row against the device's limit: its FLOPs, achieved rate, fraction of peak and dense floor.

The worker fills a row's ``flops_per_step`` and ``synaptic_ops`` from the spec it built
(``frameworks.flops``) and its achieved rate. After the cells, the runner (harness/run.py) has the
device's peak and each op's time alone measured by a dedicated worker process (``harness.floor``)
and fills the rest (``complete``). Measurements are kept in the run's environment, under
``environment["limits"][device]``::

    {"device_name": "cpu: cpu", "peak_size": 2048, "peak_flops_per_s": ...,
     "op_seconds": {"matmul:forward:65536x128x128": ..., ...},
     "op_seconds_warm": {"matmul:forward:65536x128x128": ..., ...}}

so a grid times each op shape once, and a resumed run times only shapes it has not seen. This
module imports no framework: the runner stays free of JAX (docs/limits.md).

``op_seconds`` are fresh calls (each writes a new output buffer), ``op_seconds_warm`` warm ones
(each writes into the previous output; ``harness.floor``): the row's ``dense_floor_s`` and
``floor_ratio`` come from the first, ``warm_floor_s`` and ``warm_floor_ratio`` from the second.

The runner (``harness.run``) and the interleaved comparison (``harness.interleave``) both call
``measure_missing`` on all their rows, then ``fill`` each row.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from frameworks.flops import SynapticOp, step_flops, synaptic_ops
from frameworks.spec import ModelSpec
from harness.devices import Slot
from harness.executors.local import worker_env
from harness.results import Row

LIMITS = "limits"
"""The environment's key of the measured limits, one entry per device kind."""
PEAK_SIZE = 2048
"""Side of the square float32 matmul whose rate is the device's peak (``harness.floor``)."""
REPEATS = 5
"""Timed samples per measurement; the median is kept."""
TIMEOUT_S = 1800.0
FRESH, WARM = "op_seconds", "op_seconds_warm"
"""The measured limits' keys of the op timings (module docstring)."""


@dataclass(frozen=True)
class LimitOptions:
    """How the runner measures the limits: the peak matmul's side, samples per measurement, and
    seconds before the measuring worker is stopped."""

    peak_size: int = PEAK_SIZE
    repeats: int = REPEATS
    timeout_s: float = TIMEOUT_S


def record_flops(row: Row, spec: ModelSpec, batch_size: int) -> None:
    """The FLOPs per step of ``spec`` at ``batch_size`` and the ops they come from, into ``row``."""
    row.flops_per_step = step_flops(spec, batch_size)
    row.synaptic_ops = [op.to_dict() for op in synaptic_ops(spec, batch_size)]


def step_seconds(row: Row) -> float | None:
    """Seconds per step: a micro-benchmark row's forward+backward call (median), otherwise the
    median timed epoch over its steps; None when not measured."""
    if row.task == "micro":
        return row.step_s_median
    if row.epoch_s_median is None or not row.steps_per_epoch:
        return None
    return row.epoch_s_median / row.steps_per_epoch


def dense_floor(ops: list[dict[str, Any]], op_seconds: dict[str, float]) -> float | None:
    """Seconds per step of ``ops`` (``SynapticOp.to_dict``), each timed alone, summed over its
    repeats; None when an op was not measured (or there are none)."""
    parsed = [SynapticOp.from_dict(op) for op in ops]
    if not parsed or any(op.key() not in op_seconds for op in parsed):
        return None
    return sum(op_seconds[op.key()] * op.repeats for op in parsed)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return numerator / denominator if numerator is not None and denominator else None


def complete(row: Row, measured: dict[str, Any] | None = None) -> None:
    """Fills ``row``'s achieved rate and, with the device's ``measured`` limits, its peak,
    fraction of peak, dense floor and floor ratio (docs/limits.md). Unmeasured parts stay None."""
    seconds = step_seconds(row)
    row.achieved_flops_per_s = _ratio(row.flops_per_step, seconds)
    if measured is None:
        return
    row.peak_flops_per_s = measured.get("peak_flops_per_s")
    row.fraction_of_peak = _ratio(row.achieved_flops_per_s, row.peak_flops_per_s)
    row.dense_floor_s = dense_floor(row.synaptic_ops, measured.get(FRESH, {}))
    row.floor_ratio = _ratio(seconds, row.dense_floor_s)
    row.warm_floor_s = dense_floor(row.synaptic_ops, measured.get(WARM, {}))
    row.warm_floor_ratio = _ratio(seconds, row.warm_floor_s)


def request(rows: Iterable[Row], measured: dict[str, Any], device: str, options: LimitOptions) -> dict:
    """What the measuring worker must time for ``rows``: the ops ``measured`` lacks in either
    timing (a folder measured before warm timings gets them), and the peak unless it was measured
    at ``options.peak_size``."""
    ops: dict[str, dict[str, Any]] = {}
    for row in rows:
        for op in row.synaptic_ops:
            key = SynapticOp.from_dict(op).key()
            if any(key not in measured.get(timing, {}) for timing in (FRESH, WARM)):
                ops.setdefault(key, op)
    same_peak = measured.get("peak_size") == options.peak_size and measured.get("peak_flops_per_s")
    return {"device": device, "peak_size": None if same_peak else options.peak_size,
            "repeats": options.repeats, "ops": list(ops.values())}  # fmt: skip


def merged(measured: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``measured`` with ``new`` (``harness.floor.measure``'s answer) added to it."""
    out = {**measured, "device_name": new["device_name"]}
    if new.get("peak_size"):
        out["peak_size"], out["peak_flops_per_s"] = new["peak_size"], new["peak_flops_per_s"]
    for timing in (FRESH, WARM):
        out[timing] = {**measured.get(timing, {}), **new.get(timing, {})}
    return out


def run_floor_worker(job: dict[str, Any], slot: Slot, timeout_s: float) -> dict[str, Any]:
    """``python -m harness.floor`` on ``job`` in a fresh process confined to ``slot``'s devices.

    Raises:
        RuntimeError: the worker failed or timed out (the message says how).
    """
    with tempfile.TemporaryDirectory(prefix="spikebench-limits-") as folder:
        job_path, out_path = Path(folder) / "request.json", Path(folder) / "limits.json"
        job_path.write_text(json.dumps(job))
        command = [sys.executable, "-m", "harness.floor", str(job_path), str(out_path)]
        try:
            done = subprocess.run(command, env=worker_env(job["device"], slot), timeout=timeout_s,
                                  capture_output=True, text=True)  # fmt: skip
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"the limits worker timed out after {timeout_s:g} s") from None
        if done.returncode != 0 or not out_path.exists():
            lines = done.stderr.strip().splitlines() or ["no message"]
            raise RuntimeError(f"the limits worker exited with {done.returncode}: {lines[-1]}")
        return json.loads(out_path.read_text())


def measurable(rows: Iterable[Row], device: str) -> list[Row]:
    """The rows the limits are measured for: ok, on ``device``, with their synaptic ops."""
    return [row for row in rows if row.status == "ok" and row.device == device and row.synaptic_ops]


def measure_missing(
    rows: list[Row], environment: dict[str, Any], device: str, slot: Slot, options: LimitOptions
) -> dict[str, Any]:
    """The environment with the limits of ``device`` that the ``measurable`` of ``rows`` need,
    measuring what it lacks; unchanged when none is measurable (no worker starts).

    Raises:
        RuntimeError: the measuring worker failed (``run_floor_worker``).
    """
    rows = measurable(rows, device)
    if not rows:
        return environment
    limits = dict(environment.get(LIMITS, {}))
    measured = limits.get(device, {})
    job = request(rows, measured, device, options)
    if job["ops"] or job["peak_size"]:
        measured = merged(measured, run_floor_worker(job, slot, options.timeout_s))
    limits[device] = measured
    return {**environment, LIMITS: limits}


def fill(row: Row, environment: dict[str, Any], device: str) -> None:
    """``complete`` ``row`` with ``environment``'s limits of ``device``, if it ran there and they
    were measured."""
    measured = environment.get(LIMITS, {}).get(device)
    if measured is not None and row.device == device:
        complete(row, measured)
