"""Runs one cell and writes its result row: ``python -m harness.worker CELL.json ROW.json``.

Every cell runs in a fresh process (harness/run.py), so JAX and torch never share allocators or
threads, and a crash or an out-of-memory kill loses that cell only. Whatever goes wrong inside the
framework becomes the row's ``reason``; the row is written in every case except a hard kill.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import os
import signal
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

import frameworks
from frameworks.adapter import Adapter, BackendMemory, Kernels, Session, SpikeData, Unsupported
from frameworks.order import epoch_order
from frameworks.spec import (
    MICRO_INPUT_RATE,
    ModelSpec,
    init_weights,
    micro_input,
    micro_spec,
    nmnist_spec,
    shd_spec,
)
from harness import datasets, limits, machine, memory
from harness.cell import Cell, evaluates
from harness.environment import git_commit
from harness.errors import SpikebenchError
from harness.results import Row
from harness.timing import spread, timed

_OOM_MARKERS = ("out of memory", "RESOURCE_EXHAUSTED", "OutOfMemoryError", "MemoryError")
MICRO_WARMUP = 2
"""Untimed forward and forward+backward call pairs before the micro-benchmark's timed calls."""
MICRO_CALLS = 10
"""Timed calls of each kind (forward; forward+backward) per micro-benchmark cell, at most."""
MICRO_MIN_CALLS = 3
MICRO_BUDGET_S = 60.0
"""Seconds of timed forward+backward calls a micro cell aims for: slower calls lower N, never below
``MICRO_MIN_CALLS`` (on 2 CPU cores at n=4096 a call takes ~5 s in spyx_core, ~23 s in snnTorch)."""
TEST_SLOWDOWN_ENV = "SPIKEBENCH_TEST_SLOWDOWN"
"""TEST ONLY, never for real measurements: ``FRAMEWORK:SECONDS`` makes every training step of that
framework's cells SECONDS slower (one sleep of steps x SECONDS inside each timed epoch), so that a
``spikebench compare`` run can show it finds a slow-down (docs/regression.md). Read here alone."""


def load_data(cell: Cell, split: str = "train") -> SpikeData:
    """The cell's dataset (shared by every framework through harness.datasets)."""
    return datasets.load(
        cell.task,
        split=split,
        source=cell.data,
        data_dir=cell.data_dir,
        time_steps=cell.time_steps,
        n_samples=cell.n_samples if split == "train" else None,
        seed=cell.seed,
    )


def _spec_options(cell: Cell) -> dict[str, Any]:
    """The spec settings a cell chooses (its None fields keep the task's own)."""
    chosen = {
        "surrogate": cell.surrogate,
        "surrogate_slope": cell.surrogate_slope,
        "learning_rate": cell.learning_rate,
    }
    return {k: v for k, v in chosen.items() if v is not None} | {"train_beta": cell.train_beta}


def model_spec(cell: Cell, data: SpikeData) -> ModelSpec:
    """The canonical spec for the cell, shaped by the data actually loaded."""
    common = _spec_options(cell) | {"time_steps": data.time_steps}
    if cell.task == "shd":
        return shd_spec(channels=data.input_shape[0], hidden=cell.hidden, neuron=cell.neuron, **common)
    if cell.task == "nmnist":
        return nmnist_spec(width=cell.width, input_shape=data.input_shape, **common)
    raise SpikebenchError(f"unknown task {cell.task!r}; available: shd, nmnist")


def injected_slowdown_s(framework: str) -> float:
    """Seconds per training step that ``TEST_SLOWDOWN_ENV`` adds to ``framework`` (0 when unset).

    Raises:
        SpikebenchError: a value that is not ``FRAMEWORK:SECONDS``.
    """
    value = os.environ.get(TEST_SLOWDOWN_ENV, "")
    name, _, seconds = value.rpartition(":")
    if not value:
        return 0.0
    try:
        delay = float(seconds)
    except ValueError:
        delay = -1.0
    if not name or delay < 0:
        raise SpikebenchError(f"{TEST_SLOWDOWN_ENV} must be FRAMEWORK:SECONDS, got {value!r}")
    return delay if name == framework else 0.0


def _slowed_epoch(session: Session, epoch: int, delay_s: float):
    time.sleep(delay_s)
    return session.train_epoch(epoch)


def measure(session: Session, row: Row, epochs: int, *, delay_s: float = 0.0) -> None:
    """Compile apart, then ``epochs`` epochs; the first is the warm-up, the rest are timed.

    ``delay_s``: test-only seconds slept inside each timed epoch (``TEST_SLOWDOWN_ENV``).
    """
    if session.compile_kind:
        _, row.compile_s = timed(session.compile, session.synchronize)
    row.compile_kind = session.compile_kind or "none (eager; first-step overhead is in epoch 0)"
    seconds = []
    for epoch in range(epochs):
        handle, elapsed = timed(lambda e=epoch: _slowed_epoch(session, e, delay_s), session.synchronize)
        result = session.fetch(handle)
        seconds.append(elapsed)
        if epoch == 0:
            row.loss_first_step = float(result.losses[0])
        row.loss_per_epoch.append(float(np.mean(result.losses)))
        row.loss_steps.extend(float(loss) for loss in result.losses)
        row.accuracy_per_epoch.append(result.accuracy)
    row.epoch_s_all = seconds
    row.first_epoch_s = seconds[0]
    row.timed_epochs = len(seconds) - 1
    row.epoch_s_median, row.epoch_s_min, row.epoch_s_max = spread(seconds[1:])
    record_compile_stats(session, row)


def measure_micro(
    kernels: Kernels,
    row: Row,
    *,
    warmup: int = MICRO_WARMUP,
    calls: int = MICRO_CALLS,
    budget_s: float = MICRO_BUDGET_S,
) -> None:
    """The micro-benchmark: compile apart, ``warmup`` untimed call pairs, then N forward calls and
    N forward+backward calls, each timed alone between device synchronisations.

    N is ``calls``, lowered where one forward+backward call (the last warm-up's) is so slow that N
    of them would exceed ``budget_s``, but not below ``MICRO_MIN_CALLS``; the row records N.
    """
    if kernels.compile_kind:
        _, row.compile_s = timed(kernels.compile, kernels.synchronize)
    row.compile_kind = kernels.compile_kind or "none (eager; first-call overhead is in the warm-up)"
    step_s = 0.0
    for _ in range(warmup):
        timed(kernels.forward, kernels.synchronize)
        _, step_s = timed(kernels.forward_backward, kernels.synchronize)
    row.calls = min(calls, max(MICRO_MIN_CALLS, int(budget_s // step_s))) if step_s else calls
    forward = [timed(kernels.forward, kernels.synchronize)[1] for _ in range(row.calls)]
    step = [timed(kernels.forward_backward, kernels.synchronize)[1] for _ in range(row.calls)]
    row.forward_s_median, row.forward_s_min, row.forward_s_max = spread(forward)
    row.step_s_median, row.step_s_min, row.step_s_max = spread(step)
    record_compile_stats(kernels, row)


def record_memory(row: Row, figures: BackendMemory, baseline: memory.RssBaseline) -> None:
    """The row's memory: the peak RSS above ``baseline``, the backend's own ``figures`` (same
    field names) and the headline chosen among them for the device (harness.memory)."""
    row.peak_rss_above_baseline_bytes, row.peak_rss_source = memory.peak_rss_above(baseline)
    for name, value in dataclasses.asdict(figures).items():
        setattr(row, name, value)
    row.peak_memory_bytes, row.peak_memory_source = memory.headline(row)


def record_compile_stats(compiled: Session | Kernels, row: Row) -> None:
    """The compiler's options and counts (graphs, breaks, recompilations) after the timed calls, so
    that a recompilation inside them counts; nothing for a session without ``compile_stats`` (an
    optional member: eager and JAX sessions have none)."""
    stats = getattr(compiled, "compile_stats", None)
    if stats is None:
        return
    found = stats()
    row.compile_options, row.graphs, row.graph_breaks = found.options, found.graphs, found.graph_breaks
    row.recompiles, row.graph_break_reasons = found.recompiles, found.graph_break_reasons


def run_micro(adapter: Adapter, cell: Cell, row: Row) -> None:
    """Builds the micro-benchmark network (n = ``cell.hidden``) on its seeded input and times it.

    No dataset: every framework gets the same ``micro_input`` spikes from ``cell.seed``.

    Raises:
        Unsupported: the adapter has no ``kernels`` (or cannot build them here).
        SpikebenchError: a cell whose channels differ from its hidden size (the layer is n x n).
    """
    if cell.channels != cell.hidden:
        given = f"channels={cell.channels}, hidden={cell.hidden}"
        raise SpikebenchError(f"a micro cell's layer is n x n: channels == hidden (n); got {given}")
    spec = micro_spec(cell.hidden, time_steps=cell.time_steps, **_spec_options(cell))
    record_spec(row, spec)
    limits.record_flops(row, spec, cell.batch_size)
    row.data = f"random spikes, Bernoulli({MICRO_INPUT_RATE:g}), seed {cell.seed}"
    row.n_samples, row.epochs = cell.batch_size, 0
    spikes = micro_input(spec, batch_size=cell.batch_size, seed=cell.seed)
    baseline = memory.rss_baseline()
    kernels = adapter.kernels(spec, init_weights(spec, seed=cell.seed), spikes, device=cell.device)
    with machine.watched(row, cell.device):
        measure_micro(kernels, row)
    record_memory(row, kernels.peak_memory(), baseline)


def record_spec(row: Row, spec: ModelSpec) -> None:
    """The spec settings the cell left to the task (None in the cell), as they ran."""
    row.surrogate, row.surrogate_slope = spec.surrogate, spec.surrogate_slope
    row.learning_rate = spec.learning_rate


def project(row: Row, cell: Cell) -> None:
    """Fills the projection to the paper's protocol (see ``Row``) when the cell asks for one."""
    if cell.projected_epochs is None or row.epoch_s_median is None:
        return
    full_samples = cell.reference_samples or row.n_samples
    row.full_steps_per_epoch = full_samples // cell.batch_size
    row.projected_epochs = cell.projected_epochs
    row.projected_epoch_s = row.epoch_s_median * row.full_steps_per_epoch / row.steps_per_epoch
    row.projected_total_s = (row.compile_s or 0.0) + cell.projected_epochs * row.projected_epoch_s


def _failure(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}".strip().splitlines()
    first = text[0] if text else type(error).__name__
    if any(marker in first for marker in _OOM_MARKERS):
        return f"out of memory: {first}"[:500]
    return first[:500]


def run_training(adapter: Adapter, cell: Cell, row: Row) -> None:
    """Loads the cell's data, trains its epochs and fills the row (``measure``, ``project``), then
    measures the test split when the cell evaluates (``evaluate_test``)."""
    data = load_data(cell)
    row.data, row.n_samples = data.kind, len(data)
    row.evaluate = evaluates(cell.task, data.kind, cell.evaluate)
    row.channels, row.time_steps = data.input_shape[0], data.time_steps
    row.steps_per_epoch = len(data) // cell.batch_size
    spec = model_spec(cell, data)
    record_spec(row, spec)
    limits.record_flops(row, spec, cell.batch_size)
    baseline = memory.rss_baseline()  # after the imports and the data: the model's part is above it
    session = adapter.session(
        spec,
        init_weights(spec, seed=cell.seed),
        data,
        device=cell.device,
        batch_size=cell.batch_size,
        seed=cell.seed,
    )
    delay_s = injected_slowdown_s(cell.framework) * row.steps_per_epoch
    with machine.watched(row, cell.device):
        measure(session, row, cell.epochs, delay_s=delay_s)
    record_memory(row, session.peak_memory(), baseline)
    project(row, cell)
    record_activity(row, spec, data, cell, session)
    if row.evaluate:
        evaluate_test(session, cell, row)


def evaluate_test(session: Session, cell: Cell, row: Row) -> None:
    """The trained model on the whole test split (untimed): its accuracy, mean loss and size."""
    test = load_data(cell, split="test")
    loss, accuracy = session.evaluate(test)
    row.test_loss, row.test_accuracy, row.test_samples = float(loss), float(accuracy), len(test)


def first_batch(data: SpikeData, batch_size: int, seed: int) -> np.ndarray:
    """The batch every framework takes its first training step on: epoch 0's first ``batch_size``
    samples in the shared order (``frameworks.order``), float32 ``[B, T, *input_shape]``."""
    index = epoch_order(len(data), seed, 0)[:batch_size]
    return data.unpacked(index).astype(np.float32)


def record_activity(row: Row, spec: ModelSpec, data: SpikeData, cell: Cell, session: Session) -> None:
    """Fills the row's activity (``frameworks.activity``) after the timed epochs: on the first
    training batch, at the initial weights and at the session's final weights. A failure is
    recorded in ``activity_error`` and leaves the rest of the row as it is."""
    try:
        weights = [init_weights(spec, seed=cell.seed), session.weights()]
        missing = sorted(set(weights[0]) - set(weights[1]))
        if missing:  # found before JAX is loaded and a program compiled
            raise ValueError(f"the session's weights lack {', '.join(missing)}")
        # Imported here, after the timings: a worker whose framework does not use JAX starts
        # without it (its environment keeps JAX from reserving a GPU pool: executors.local).
        from frameworks.activity import measure_activity

        batch = first_batch(data, cell.batch_size, cell.seed)
        first, final = measure_activity(spec, batch, weights)
    except Exception as error:  # the activity is extra: its failure must not cost the timings
        row.activity_error = _failure(error)
        traceback.print_exc()
        return
    row.spike_rates_first, row.spike_rates_final = first.spike_rates, final.spike_rates
    row.readout_abs_mean_first = first.readout_abs_mean
    row.readout_abs_mean_final = final.readout_abs_mean
    row.synops_acs_first, row.synops_acs_final = first.synops.effective_acs, final.synops.effective_acs
    row.synops_macs_first = first.synops.effective_macs
    row.synops_macs_final = final.synops.effective_macs
    row.synops_dense = final.synops.dense


def run_cell(cell: Cell) -> Row:
    """Runs ``cell`` in this process; every outcome is a row (never raises on framework errors)."""
    row = Row.for_cell(cell, git_commit=git_commit(), host=socket.gethostname())
    if cell.device == "gpu":
        row.device_index = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    start = time.perf_counter()
    try:
        adapter = frameworks.load(cell.framework)
        row.versions = adapter.versions()
        row.semantics = adapter.semantics
        row.device_name = adapter.device_name(cell.device)
        if cell.task == "micro":
            run_micro(adapter, cell, row)
        else:
            run_training(adapter, cell, row)
    except (Unsupported, frameworks.FrameworkUnavailable) as error:
        row.status, row.reason = "skipped", str(error)
    except SpikebenchError:
        raise
    except Exception as error:  # a framework may fail in any way; the row records how
        row.status, row.reason = "failed", _failure(error)
        traceback.print_exc()
    limits.complete(row)  # the achieved rate; the runner adds the device's limits after the cells
    row.wall_s = time.perf_counter() - start
    return row


PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Has the kernel kill this worker when the runner that started it dies (Linux).

    A runner killed without the chance to end its workers (SIGKILL, a lost node) must not leave a
    cell computing beside the next run. The runner's pid comes in ``SPIKEBENCH_PARENT_PID``; if it
    is already gone, so is this worker.
    """
    parent = os.environ.get("SPIKEBENCH_PARENT_PID")
    if not parent or not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != int(parent):
        os._exit(1)


def main(argv: list[str] | None = None) -> int:
    die_with_parent()
    cell_path, row_path = argv if argv is not None else sys.argv[1:]
    cell = Cell.from_dict(json.loads(Path(cell_path).read_text()))
    try:
        row = run_cell(cell)
    except SpikebenchError as error:
        print(f"spikebench: {error}", file=sys.stderr)
        return 2
    Path(row_path).write_text(json.dumps(row.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
