"""Do two adapters compute the same thing? Same weights and batch in, readout, loss and gradients out.

``compare`` runs a reference and a candidate adapter on identical canonical weights and one batch
and measures, for each quantity, the relative error of the candidate against the reference
(``relative_error``): the time-summed readout (the logits), the loss, and the gradient of every
trained parameter. Each quantity passes when its error is at most its tolerance::

    spec = shd_spec(channels=16, hidden=32, time_steps=40)
    spikes, labels = equivalence_batch(spec)
    report = compare(load("spyx_core"), load("norse"), spec, init_weights(spec, seed=0), spikes, labels)
    assert report.ok, str(report)

``compare_kernels`` does the same for the micro-benchmark's timed calls (``Adapter.kernels``): the
whole output of the forward call and the gradients of ``output.sum()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from frameworks.adapter import Adapter
from frameworks.spec import ModelSpec, random_spikes

TINY = 1e-12
"""Floor of the reference's magnitude in ``relative_error``, so an all-zero reference is defined."""


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """The largest absolute difference of ``a`` from ``b``, relative to the largest entry of ``b``.

    ``max|a - b| / max(max|b|, 1e-12)``: one scale for the whole array, so entries near zero do
    not inflate the error, as an elementwise relative error would. ``b`` is the reference.

    Args:
        a: the candidate values.
        b: the reference values, of the same shape.

    Returns:
        The relative error: ``inf`` when the shapes differ (so it fails any tolerance), ``nan``
        when either side holds a NaN.
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return math.inf
    if a.size == 0:
        return 0.0
    scale = max(float(np.max(np.abs(b))), TINY)
    return float(np.max(np.abs(a - b))) / scale


@dataclass(frozen=True)
class Comparison:
    """One compared quantity.

    Attributes:
        quantity: what was compared: ``"readout"``, ``"loss"`` or ``"grad <parameter>"``.
        error: its relative error (``relative_error``); ``inf`` when one side lacks it.
        tolerance: the largest error that passes.
    """

    quantity: str
    error: float
    tolerance: float

    @property
    def ok(self) -> bool:
        """Whether the error is within the tolerance (a NaN error never is)."""
        return self.error <= self.tolerance


@dataclass(frozen=True)
class EquivalenceReport:
    """The outcome of ``compare``: every quantity, its error and its tolerance.

    Attributes:
        reference: the reference adapter's name.
        candidate: the candidate adapter's name.
        comparisons: one entry per compared quantity.
    """

    reference: str
    candidate: str
    comparisons: tuple[Comparison, ...]

    @property
    def ok(self) -> bool:
        """Whether every quantity agrees within its tolerance."""
        return all(c.ok for c in self.comparisons)

    @property
    def failures(self) -> tuple[Comparison, ...]:
        """The quantities outside their tolerance."""
        return tuple(c for c in self.comparisons if not c.ok)

    def __str__(self) -> str:
        width = max([len("quantity"), *(len(c.quantity) for c in self.comparisons)])
        verdict = "equivalent" if self.ok else f"{len(self.failures)} quantities differ"
        lines = [
            f"{self.candidate} vs {self.reference} (reference): {verdict}",
            f"  {'quantity':<{width}}  {'rel. error':>10}  {'tolerance':>9}  ok",
        ]
        for c in self.comparisons:
            mark = "yes" if c.ok else "NO"
            lines.append(f"  {c.quantity:<{width}}  {c.error:>10.3g}  {c.tolerance:>9.1g}  {mark}")
        return "\n".join(lines)


def _grad_comparisons(
    reference: dict[str, np.ndarray], candidate: dict[str, np.ndarray], tolerance: float
) -> list[Comparison]:
    """One comparison per parameter in either gradient dict; a key on one side only is ``inf``."""
    names = list(reference) + [k for k in candidate if k not in reference]
    out = []
    for name in names:
        if name in reference and name in candidate:
            error = relative_error(candidate[name], reference[name])
        else:
            error = math.inf
        out.append(Comparison(f"grad {name}", error, tolerance))
    return out


def compare(
    reference: Adapter,
    candidate: Adapter,
    spec: ModelSpec,
    weights: dict[str, np.ndarray],
    spikes: np.ndarray,
    labels: np.ndarray,
    *,
    readout_rtol: float = 1e-4,
    grad_rtol: float = 1e-3,
    loss_rtol: float = 1e-4,
) -> EquivalenceReport:
    """Runs both adapters on the same weights and batch and compares what they compute.

    Args:
        reference: the adapter whose values are taken as right.
        candidate: the adapter under test.
        spec: the model both build.
        weights: canonical initial weights (``frameworks.spec.init_weights``).
        spikes: float32 ``[B, T, *input_shape]``.
        labels: int64 ``[B]``.
        readout_rtol: tolerance of the time-summed readout ``[B, K]``.
        grad_rtol: tolerance of each trained parameter's gradient.
        loss_rtol: tolerance of the loss.

    Returns:
        The report; ``report.ok`` says whether the candidate agrees with the reference.
    """
    readouts = [np.asarray(a.readout(spec, weights, spikes)).sum(axis=0) for a in (reference, candidate)]
    ref_loss, ref_grads = reference.loss_and_grads(spec, weights, spikes, labels)
    cand_loss, cand_grads = candidate.loss_and_grads(spec, weights, spikes, labels)
    comparisons = [
        Comparison("readout", relative_error(readouts[1], readouts[0]), readout_rtol),
        Comparison("loss", relative_error(cand_loss, ref_loss), loss_rtol),
        *_grad_comparisons(ref_grads, cand_grads, grad_rtol),
    ]
    return EquivalenceReport(reference.name, candidate.name, tuple(comparisons))


def compare_kernels(
    reference: Adapter,
    candidate: Adapter,
    spec: ModelSpec,
    weights: dict[str, np.ndarray],
    spikes: np.ndarray,
    *,
    device: str = "cpu",
    output_rtol: float = 1e-4,
    grad_rtol: float = 1e-3,
) -> EquivalenceReport:
    """Compares what the micro-benchmark times: both adapters' ``Kernels`` on the same weights and
    input, the whole output ``[T, B, ...]`` of ``forward`` and the gradients of ``forward_backward``
    (of ``output.sum()``).

    For a spiking output one flipped spike is a relative error of 1, so the spike trains must be
    identical.

    Args:
        reference: the adapter whose values are taken as right.
        candidate: the adapter under test.
        spec: the model both build.
        weights: canonical initial weights.
        spikes: float32 ``[B, T, *input_shape]``.
        device: where both run.
        output_rtol: tolerance of the output.
        grad_rtol: tolerance of each trained parameter's gradient.

    Returns:
        The report (quantities ``"output"`` and ``"grad <parameter>"``).

    Raises:
        Unsupported: either adapter cannot build these kernels.
    """
    outputs, grads = [], []
    for adapter in (reference, candidate):
        kernels = adapter.kernels(spec, weights, spikes, device=device)
        kernels.compile()
        outputs.append(kernels.output(kernels.forward()))
        grads.append(kernels.gradients(kernels.forward_backward()))
    comparisons = [
        Comparison("output", relative_error(outputs[1], outputs[0]), output_rtol),
        *_grad_comparisons(grads[0], grads[1], grad_rtol),
    ]
    return EquivalenceReport(reference.name, candidate.name, tuple(comparisons))


def equivalence_batch(
    spec: ModelSpec, *, batch_size: int = 8, seed: int = 0, rate: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """A deterministic random batch for equivalence checks.

    Args:
        spec: gives ``time_steps``, ``input_shape`` and ``n_classes``.
        batch_size: ``B``.
        seed: of the numpy generator.
        rate: probability of a spike in each time step and input.

    Returns:
        Binary spikes float32 ``[B, T, *input_shape]`` and labels int64 ``[B]``.
    """
    rng = np.random.default_rng(seed)
    shape = (batch_size, spec.time_steps, *spec.input_shape)
    spikes = random_spikes(rng, shape, rate)
    labels = rng.integers(0, spec.n_classes, size=batch_size, dtype=np.int64)
    return spikes, labels
