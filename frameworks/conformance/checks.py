"""The checks of the conformance suite (``frameworks.conformance``), each returning a ``Check``."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import spyx_core
from frameworks.adapter import DEVICES, Adapter, SpikeData, Unsupported
from frameworks.conformance.equivalence import EquivalenceReport, compare, relative_error
from frameworks.conformance.tasks import Task
from frameworks.order import epoch_order
from frameworks.spec import LAYER_TYPES, LIF, ModelSpec, init_weights, trained_names

STATUSES = ("pass", "fail", "measured", "unsupported")
FIRST_LOSS_RTOL = 1e-4
"""Tolerance of the first-step loss of an exact adapter (as ``compare``'s loss tolerance)."""
UNSUPPORTED_NEURON = "ALIF"
"""The neuron the ``failure reporting`` check asks for: run it exactly or raise ``Unsupported``."""


@dataclass(frozen=True)
class Check:
    """One check's outcome.

    Attributes:
        name: e.g. ``"forward+gradients shd"``.
        status: ``"pass"``, ``"fail"``, ``"measured"`` (a declared deviation, recorded) or
            ``"unsupported"`` (the adapter raises ``Unsupported`` for this task, naming why).
        detail: one line: what was found.
        error: the largest relative error measured, where the check measures one.
    """

    name: str
    status: str
    detail: str = ""
    error: float | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status != "fail"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:300]


def guarded(name: str, check: Callable[[], Check]) -> Check:
    """Runs ``check``; ``Unsupported`` makes it ``unsupported``, any other exception fails it."""
    try:
        return check()
    except Unsupported as error:  # the adapter cannot express this task: recorded, not failed
        return Check(name, "unsupported", str(error)[:300])
    except Exception as error:  # an adapter may fail in any way; the report records how
        return Check(name, "fail", _first_line(error))


def declaration(adapter: Adapter) -> Check:
    exact, semantics = adapter.exact, adapter.semantics
    if not exact and not semantics.strip():
        return Check("declaration", "fail", "exact = False needs a one-line `semantics`")
    if exact and semantics.strip():
        return Check("declaration", "fail", "an exact adapter declares no semantic difference")
    return Check("declaration", "pass", "canonical model" if exact else semantics)


def versions(adapter: Adapter) -> Check:
    versions = adapter.versions()
    if not versions or not all(isinstance(v, str) for v in versions.values()):
        return Check("versions", "fail", f"versions() must map packages to strings: {versions!r}")
    missing = [k for k, v in versions.items() if v == "missing"]
    text = ", ".join(f"{k} {v}" for k, v in versions.items())
    return Check("versions", "fail" if missing else "pass", text)


def supported_devices(adapter: Adapter) -> dict[str, str]:
    """Each device of ``DEVICES`` -> its name, or ``"unsupported: <reason>"``.

    Raises:
        Exception: whatever ``device_name`` raises other than ``Unsupported``.
    """
    found = {}
    for device in DEVICES:
        try:
            found[device] = adapter.device_name(device)
        except Unsupported as error:
            found[device] = f"unsupported: {error}"
    return found


def devices(adapter: Adapter, device: str) -> Check:
    found = supported_devices(adapter)
    text = "; ".join(
        f"{d}: {n.partition(':')[0] if n.startswith('unsupported') else n}" for d, n in found.items()
    )
    if found[device].startswith("unsupported"):
        return Check("devices", "fail", f"the device under test is {found[device]}")
    return Check("devices", "pass", text)


def _raises_unsupported(action: Callable[[], object], what: str) -> str | None:
    """``None`` when ``action`` raises ``Unsupported``; otherwise what went wrong."""
    try:
        action()
    except Unsupported:
        return None
    except Exception as error:
        return f"{what}: {_first_line(error)} (expected Unsupported)"
    return f"{what}: no error (expected Unsupported)"


def failure_reporting(adapter: Adapter, task: Task) -> Check:
    weights, (spikes, labels) = task.weights(), task.batch(task.batch_size)
    data = _spike_data(task, spikes, labels)
    problems = [
        _raises_unsupported(lambda: adapter.device_name("abacus"), "device_name('abacus')"),
        _raises_unsupported(
            lambda: adapter.session(
                task.spec, weights, data, device="abacus", batch_size=task.batch_size, seed=0
            ),
            "session(device='abacus')",
        ),
    ]
    if not adapter.trains_beta:
        problems.append(
            _raises_unsupported(
                lambda: adapter.loss_and_grads(task.spec, weights, spikes, labels), "train_beta"
            )
        )
    problems.append(_other_neuron(adapter, task, spikes))
    problems = [p for p in problems if p]
    if problems:
        return Check("failure reporting", "fail", "; ".join(problems))
    return Check("failure reporting", "pass", f"unknown device and {UNSUPPORTED_NEURON}: as required")


def _other_neuron(adapter: Adapter, task: Task, spikes: np.ndarray) -> str | None:
    """A spec with ``UNSUPPORTED_NEURON`` layers runs (finite readout) or raises ``Unsupported``."""
    try:
        spec = with_neuron(task.spec, UNSUPPORTED_NEURON)
        readout = adapter.readout(spec, init_weights(spec, seed=0), spikes)
    except Unsupported:
        return None
    except Exception as error:
        return f"{UNSUPPORTED_NEURON}: {_first_line(error)} (expected a readout or Unsupported)"
    if not np.all(np.isfinite(readout)):
        return f"{UNSUPPORTED_NEURON}: non-finite readout"
    return None


def with_neuron(spec: ModelSpec, neuron: str) -> ModelSpec:
    """``spec`` with every LIF layer replaced by a layer of ``neuron`` of the same size."""
    make = LAYER_TYPES[neuron]
    layers = tuple(make(size=x.size) if isinstance(x, LIF) else x for x in spec.layers)
    return dataclasses.replace(spec, layers=layers)


def equivalence(
    adapter: Adapter, reference: Adapter, task: Task, weights: dict[str, np.ndarray], at: str = ""
) -> Check:
    """``compare`` against the reference at ``weights`` (``at`` names them in the check's name)."""
    name = f"forward+gradients {task.name}{f' at {at}' if at else ''}"
    report = compare(reference, adapter, task.spec, weights, *task.batch(task.batch_size))
    error = max(c.error for c in report.comparisons)
    if adapter.exact:
        return Check(name, "pass" if report.ok else "fail", _describe(report, failures=True), error)
    return Check(name, "measured" if math.isfinite(error) else "fail", _describe(report), error)


def _describe(report: EquivalenceReport, *, failures: bool = False) -> str:
    errors = {c.quantity: c.error for c in report.comparisons}
    grads = [e for q, e in errors.items() if q.startswith("grad ")]
    text = f"readout {errors['readout']:.2g}, loss {errors['loss']:.2g}, grads <= {max(grads):.2g}"
    worst = [c.quantity for c in report.failures] if failures else []
    return text + (f"; beyond tolerance: {', '.join(worst)}" if worst else "")


def _spike_data(task: Task, spikes: np.ndarray, labels: np.ndarray) -> SpikeData:
    packed = spyx_core.pack_time(spikes)
    steps = task.spec.time_steps
    return SpikeData(packed, labels.astype(np.int32), steps, kind="synthetic", name=task.name)


@dataclass
class _Trained:
    initial: dict[str, np.ndarray]
    losses: np.ndarray
    accuracy: float
    final: dict[str, np.ndarray]
    evaluation: tuple[float, float]


def _train(adapter: Adapter, task: Task, device: str, spikes: np.ndarray, labels: np.ndarray):
    """One epoch of two steps, from the task's weights, then an evaluation on the same data."""
    data = _spike_data(task, spikes, labels)
    session = adapter.session(
        task.spec, task.weights(), data, device=device, batch_size=task.batch_size, seed=0
    )
    initial = session.weights()
    session.compile()
    handle = session.train_epoch(0)
    session.synchronize()
    result = session.fetch(handle)
    final = session.weights()
    return _Trained(initial, np.asarray(result.losses), result.accuracy, final, session.evaluate(data))


def session_checks(adapter: Adapter, reference: Adapter, task: Task, device: str) -> list[Check]:
    spikes, labels = task.batch(2 * task.batch_size, seed=1)
    loss_name, session_name = f"first-step loss {task.name}", f"session {task.name}"
    try:
        trained = _train(adapter, task, device, spikes, labels)
    except Unsupported as error:
        return [Check(n, "unsupported", str(error)[:300]) for n in (loss_name, session_name)]
    except Exception as error:
        return [Check(n, "fail", _first_line(error)) for n in (loss_name, session_name)]
    first = epoch_order(len(labels), 0, 0)[: task.batch_size]
    expected, _ = reference.loss_and_grads(task.spec, task.weights(), spikes[first], labels[first])
    return [
        _first_loss(adapter, loss_name, float(trained.losses[0]), expected),
        _session(session_name, task, trained),
        guarded(
            f"forward+gradients {task.name} at trained weights",
            lambda: equivalence(adapter, reference, task, trained.final, "trained weights"),
        ),
    ]


def _first_loss(adapter: Adapter, name: str, loss: float, expected: float) -> Check:
    error = relative_error(loss, expected)
    detail = f"{loss:.6f} vs reference {expected:.6f}"
    if adapter.exact:
        return Check(name, "pass" if error <= FIRST_LOSS_RTOL else "fail", detail, error)
    return Check(name, "measured" if math.isfinite(error) else "fail", detail, error)


def _session(name: str, task: Task, trained: _Trained) -> Check:
    weights = task.weights()
    problems = []
    if list(trained.initial) != list(weights) or not all(
        np.array_equal(trained.initial[k], v) for k, v in weights.items()
    ):
        problems.append("weights() before training differ from the given weights")
    if trained.losses.shape != (2,) or not np.all(np.isfinite(trained.losses)):
        problems.append(f"losses {trained.losses!r}: expected 2 finite values")
    unchanged = [
        k for k in trained_names(task.spec, weights) if np.array_equal(trained.final.get(k), weights[k])
    ]
    if unchanged:
        problems.append(f"training left {', '.join(unchanged)} unchanged")
    loss, accuracy = trained.evaluation
    if not (math.isfinite(loss) and 0.0 <= accuracy <= 1.0 and 0.0 <= trained.accuracy <= 1.0):
        problems.append(f"evaluate gave loss {loss}, accuracy {accuracy}")
    detail = "; ".join(problems) or f"trains, round-trips weights, evaluates (loss {loss:.4f})"
    return Check(name, "fail" if problems else "pass", detail)
