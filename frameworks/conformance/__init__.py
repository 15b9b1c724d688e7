"""The adapter conformance suite: what every registered adapter must do, checked on tiny models.

``run(adapter)`` checks one adapter against the reference (spyx_core) and returns a
``ConformanceReport``; ``spikebench check-adapter NAME`` prints it and tests/test_conformance.py runs
it for every registered adapter. The checks:

- ``declaration``: an adapter that does not compute the canonical model exactly says so
  (``exact = False``) and how (``semantics``, one line).
- ``versions``: ``versions()`` names every package with its installed version.
- ``devices``: each device either has a name or is ``Unsupported``; the device under test works.
- ``failure reporting``: what an adapter cannot do raises ``Unsupported`` naming it (an unknown
  device, a neuron it does not implement, beta training it cannot do), never another error.
- ``forward+gradients <task>``: ``equivalence.compare`` against the reference on the
  task's tiny network and batch (readout, loss, every gradient), at the task's weights, at decays
  on and past the boundaries of ``[0, 1]`` (``tasks.BOUNDARY_DECAYS``) and at the weights the
  adapter's own session reached after training.
- ``first-step loss <task>``: a training session's first loss against the reference's loss on the
  same first batch (same weights, the shared sample order).
- ``session <task>``: the session trains (finite losses, every trained weight moves), reports its
  initial weights exactly, and evaluates.

An exact adapter must agree within the tolerances of ``compare``. For an adapter that declares
``exact = False`` the two comparisons are *measured* instead (status ``measured``): the suite records
the deviation and passes as long as the values are finite. Tasks are entries of ``TASKS``, each a
tiny spec, weight gains that make every layer fire, and a batch; N-MNIST becomes one more entry. A
task whose network the adapter cannot express (it raises ``Unsupported``) is ``unsupported``, not
failed; an adapter must run at least one task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import frameworks
from frameworks.adapter import Adapter
from frameworks.conformance.checks import (
    Check,
    declaration,
    devices,
    equivalence,
    failure_reporting,
    guarded,
    session_checks,
    supported_devices,
    versions,
    with_neuron,
)
from frameworks.conformance.tasks import TASKS as TASKS
from frameworks.conformance.tasks import Task as Task
from frameworks.spec import ModelSpec

REFERENCE = "spyx_core"


@dataclass(frozen=True)
class ConformanceReport:
    """Every check of one adapter; ``ok`` when none failed.

    Attributes:
        adapter: the adapter's name.
        device: the device the session checks ran on.
        exact: whether the adapter claims the canonical model.
        semantics: its declared difference from the canonical model (empty when exact).
        checks: the outcomes, in order.
    """

    adapter: str
    device: str
    exact: bool
    semantics: str
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def deviation(self) -> float | None:
        """The largest relative error of the comparisons with the reference (``None``: not run)."""
        errors = [c.error for c in self.checks if c.error is not None]
        return max(errors) if errors else None

    def summary(self) -> str:
        """One line: pass/FAIL, exactness and the measured deviation."""
        verdict = "pass" if self.ok else "FAIL"
        kind = "exact" if self.exact else f"inexact ({self.semantics})"
        deviation = "" if self.deviation is None else f", max deviation {self.deviation:.2g}"
        return f"{verdict}: {kind}{deviation}"

    def __str__(self) -> str:
        width = max(len("check"), *(len(c.name) for c in self.checks))
        lines = [
            f"{self.adapter} on {self.device}: {self.summary()}",
            f"  {'check':<{width}}  {'result':<8}  {'rel. error':>10}  detail",
        ]
        for c in self.checks:
            error = "" if c.error is None else f"{c.error:.3g}"
            result = c.status if c.ok else "FAIL"
            lines.append(f"  {c.name:<{width}}  {result:<8}  {error:>10}  {c.detail}")
        return "\n".join(lines)


# --- the suite ----------------------------------------------------------------------------------


class _Memo:
    """A reference adapter whose readouts and gradients are computed once per input."""

    def __init__(self, adapter: Adapter):
        self.adapter, self.name, self._cache = adapter, adapter.name, {}

    def _key(self, kind: str, spec: ModelSpec, weights, *arrays) -> tuple:
        parts = [np.ascontiguousarray(weights[k]).tobytes() for k in sorted(weights)]
        parts += [np.ascontiguousarray(a).tobytes() for a in arrays]
        return (kind, spec, hash(tuple(parts)))

    def _memo(self, key: tuple, compute: Callable[[], object]):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def readout(self, spec, weights, spikes):
        key = self._key("readout", spec, weights, spikes)
        return self._memo(key, lambda: self.adapter.readout(spec, weights, spikes))

    def loss_and_grads(self, spec, weights, spikes, labels):
        key = self._key("grads", spec, weights, spikes, labels)
        return self._memo(key, lambda: self.adapter.loss_and_grads(spec, weights, spikes, labels))


_REFERENCES: dict[str, _Memo] = {}


def reference_adapter(name: str = REFERENCE) -> Adapter:
    """The reference adapter, loaded once per process; its results are memoised."""
    if name not in _REFERENCES:
        _REFERENCES[name] = _Memo(frameworks.load(name))
    return _REFERENCES[name]


def run(
    adapter: Adapter,
    *,
    device: str = "cpu",
    tasks: tuple[str, ...] | None = None,
    reference: Adapter | None = None,
) -> ConformanceReport:
    """Runs every check of the suite (module docstring) on ``adapter``.

    Args:
        adapter: the adapter under test.
        device: where its training session runs (``readout`` and gradients run on the CPU).
        tasks: names of ``TASKS`` (default: all).
        reference: the adapter taken as right (default: spyx_core, memoised).

    Returns:
        The report; it never raises for what the adapter does wrong.

    Raises:
        KeyError: an unknown task name.
    """
    reference = reference or reference_adapter()
    chosen = [TASKS[name] for name in (tasks or tuple(TASKS))]
    checks = [
        guarded("declaration", lambda: declaration(adapter)),
        guarded("versions", lambda: versions(adapter)),
        guarded("devices", lambda: devices(adapter, device)),
        guarded("failure reporting", lambda: failure_reporting(adapter, chosen[0])),
    ]
    per_task: list[Check] = []
    for task in chosen:
        name = f"forward+gradients {task.name}"
        per_task.append(guarded(name, lambda t=task: equivalence(adapter, reference, t, t.weights())))
        per_task.append(
            guarded(
                f"{name} at boundary decays",
                lambda t=task: equivalence(
                    adapter, reference, t, t.boundary_weights(), "boundary decays"
                ),
            )
        )
        per_task.extend(session_checks(adapter, reference, task, device))
    if all(c.status == "unsupported" for c in per_task):
        per_task.append(Check("tasks", "fail", "the adapter runs none of the tasks"))
    return ConformanceReport(
        adapter=adapter.name,
        device=device,
        exact=bool(adapter.exact),
        semantics=adapter.semantics,
        checks=(*checks, *per_task),
    )


__all__ = [
    "REFERENCE",
    "TASKS",
    "Check",
    "ConformanceReport",
    "Task",
    "reference_adapter",
    "run",
    "supported_devices",
    "with_neuron",
]
