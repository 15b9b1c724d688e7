"""Every adapter computes the same thing: same weights and batch give the same readout and gradients.

Also shows that the check has teeth (adapters that drift from the canonical model fail it), that
the test network really spikes and resets, and that training sessions agree step by step.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch
from drifted import with_lif

import frameworks
import spyx_core
from frameworks.adapter import SpikeData, Unsupported
from frameworks.adapters.norse_adapter import NorseAdapter, NorseLIF
from frameworks.adapters.snntorch_adapter import SnnTorchAdapter
from frameworks.adapters.spyx_core_adapter import DEFAULT_IMPL, SpyxCoreAdapter
from frameworks.conformance.equivalence import (
    Comparison,
    EquivalenceReport,
    compare,
    equivalence_batch,
    relative_error,
)
from frameworks.spec import LIF, Linear, ModelSpec, init_weights, shd_spec
from frameworks.torch_base import spike_function

NAMES = frameworks.available(exact_only=True)
"""Every importable adapter that claims the canonical model (torch_compile, whose compiles take
~45 s, is checked by the conformance suite instead)."""
PAIRS = list(itertools.combinations(NAMES, 2))
GAINS = {"0.weight": 3.0, "2.weight": 3.0, "4.weight": 0.2}
"""Scales of the initial weights: at Haiku's initial scale the second LIF layer barely fires."""
BELOW_SPIKING = {"grad 0.weight", "grad 1.beta", "grad 2.weight", "grad 3.beta"}
"""The gradients a change in the LIF backward pass reaches (the readout's are forward-only)."""


def active_weights(spec: ModelSpec, seed: int = 0) -> dict[str, np.ndarray]:
    """``init_weights`` with ``GAINS`` applied, so that both hidden LIF layers fire moderately."""
    weights = init_weights(spec, seed=seed)
    return {k: (v * GAINS.get(k, 1.0)).astype(np.float32) for k, v in weights.items()}


def lif_spikes(spec: ModelSpec, weights: dict[str, np.ndarray], spikes: np.ndarray) -> list[np.ndarray]:
    """Spike trains ``[T, B, H]`` of each LIF layer, by the equations of frameworks/spec.py (numpy)."""
    h, out = np.moveaxis(spikes, 1, 0).astype(np.float64), []
    for i, layer in enumerate(spec.layers):
        if isinstance(layer, Linear):
            h = h @ weights[f"{i}.weight"]
        elif isinstance(layer, LIF):
            beta, v, s, trains = np.clip(weights[f"{i}.beta"], 0, 1), 0.0, 0.0, []
            for x in h:
                v = beta * v + x - spec.theta * s
                s = (v > spec.theta).astype(np.float64)
                trains.append(s)
            h = np.stack(trains)
            out.append(h)
    return out


@pytest.fixture
def batch(spec: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    return equivalence_batch(spec, batch_size=8, seed=0)


@pytest.fixture
def active(spec: ModelSpec) -> dict[str, np.ndarray]:
    return active_weights(spec)


def _adapter(name: str):
    return frameworks.load(name)


CONV_ONLY = ("step-xla", "step-hybrid")
"""Variants that differ from the default only in their convolution: tests/test_conformance_conv.py."""
SPYX_CORE_VARIANTS = [
    f"spyx_core@{v}"
    for v in SpyxCoreAdapter.VARIANTS
    if v not in (DEFAULT_IMPL, "scan-unroll32", *CONV_ONLY)
]
"""Every other implementation of spyx_core (``DEFAULT_IMPL`` is ``spyx_core`` itself), but
the convolution-only ones and ``scan-unroll32``: ``scan`` with XLA unrolling 32 steps, the same
computation, whose compile alone costs ~8 s here (``spikebench check-adapter
spyx_core@scan-unroll32`` checks it)."""


# --- the test batch exercises spikes and resets -------------------------------------------------


def test_hidden_layers_spike_and_reset(spec, active, batch):
    trains = lif_spikes(spec, active, batch[0])
    assert len(trains) == 2
    for s in trains:
        assert 0.02 < s.mean() < 0.8
        assert s[:-1].sum() > 100  # a spike before the last step resets the next one
        assert (s.sum(axis=0) > 0).mean() > 0.5  # most neurons of most samples take part


def test_readout_matches_an_independent_numpy_model(spec, active, batch):
    u, logits = 0.0, 0.0
    for x in lif_spikes(spec, active, batch[0])[-1] @ active["4.weight"]:
        u = np.clip(active["5.beta"], 0, 1) * u + x
        logits = logits + u
    readout = frameworks.load("spyx_core").readout(spec, active, batch[0]).sum(axis=0)
    assert relative_error(readout, logits) <= 1e-5


# --- every pair of adapters agrees --------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "candidate"), [*PAIRS, *(("spyx_core", v) for v in SPYX_CORE_VARIANTS)]
)
def test_adapters_agree(spec, active, batch, reference, candidate):
    report = compare(_adapter(reference), _adapter(candidate), spec, active, *batch)
    assert report.ok, f"\n{report}"
    assert {c.quantity for c in report.comparisons} >= {"readout", "loss", "grad 1.beta"}


@pytest.mark.parametrize("candidate", [n for n in NAMES if n != "spyx_core"])
@pytest.mark.parametrize(
    "overrides",
    [{"train_beta": False}, {"surrogate": "superspike", "surrogate_slope": 25.0}],
    ids=["fixed-beta", "superspike"],
)
def test_adapters_agree_on_variants(spec, batch, candidate, overrides):
    spec = dataclasses.replace(spec, **overrides)
    weights = active_weights(spec)
    report = compare(_adapter("spyx_core"), _adapter(candidate), spec, weights, *batch)
    assert report.ok, f"\n{report}"
    betas = [c for c in report.comparisons if c.quantity.endswith(".beta")]
    assert bool(betas) == spec.train_beta


# --- drifted adapters fail ----------------------------------------------------------------------


class NoResetLIF(NorseLIF):
    """Never resets."""

    def reset(self, z):
        return torch.zeros_like(z)


class AttachedResetLIF(NorseLIF):
    """Same forward pass; the gradient also flows through the reset."""

    def reset(self, z):
        return self.theta * z


NoResetAdapter = with_lif(NorseAdapter, NoResetLIF, "norse-no-reset")
AttachedResetAdapter = with_lif(NorseAdapter, AttachedResetLIF, "norse-attached-reset")


class SteepSurrogateAdapter(SnnTorchAdapter):
    """snnTorch with the surrogate slope doubled."""

    name = "snntorch-steep"

    def build(self, spec: ModelSpec, spike_fn) -> torch.nn.Module:
        steep = dataclasses.replace(spec, surrogate_slope=2 * spec.surrogate_slope)
        return super().build(spec, spike_function(steep))


def _failing(report: EquivalenceReport) -> set[str]:
    return {c.quantity for c in report.failures}


def test_missing_reset_changes_the_forward_pass(spec, active, batch):
    report = compare(_adapter("snntorch"), NoResetAdapter(), spec, active, *batch)
    assert not report.ok
    assert {"readout", "loss"} <= _failing(report)


@pytest.mark.parametrize("drifted", [AttachedResetAdapter, SteepSurrogateAdapter])
def test_backward_drift_changes_only_gradients(spec, active, batch, drifted):
    report = compare(_adapter("spyx_core"), drifted(), spec, active, *batch)
    assert not report.ok
    assert _failing(report) == BELOW_SPIKING, f"\n{report}"
    errors = {c.quantity: c.error for c in report.comparisons}
    assert errors["readout"] < 1e-6
    assert errors["loss"] < 1e-6


# --- the comparison itself ----------------------------------------------------------------------


def test_relative_error_is_relative_to_the_reference_scale():
    assert relative_error(np.array([1.0, 2.1]), np.array([1.0, 2.0])) == pytest.approx(0.05)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.ones(3), np.ones(4)) == math.inf
    assert relative_error(np.array([1e-13]), np.zeros(1)) == pytest.approx(0.1)
    assert not Comparison("x", math.nan, 1.0).ok


class _Fixed:
    """An adapter that returns canned values."""

    def __init__(self, name: str, grads: dict[str, np.ndarray], readout_scale: float = 1.0):
        self.name, self.grads, self.scale = name, grads, readout_scale

    def readout(self, spec, weights, spikes):
        return np.ones((3, 2, 4), np.float32) * self.scale

    def loss_and_grads(self, spec, weights, spikes, labels):
        return 1.5, self.grads


def test_missing_or_extra_gradient_is_a_failure(spec, weights, batch):
    grads = {"0.weight": np.ones(2), "1.beta": np.ones(3)}
    ref = _Fixed("ref", grads)
    cand = _Fixed("cand", {"0.weight": np.ones(2), "9.beta": np.ones(1)}, readout_scale=1.00001)
    report = compare(ref, cand, spec, weights, *batch)
    assert _failing(report) == {"grad 1.beta", "grad 9.beta"}
    assert all(c.error == math.inf for c in report.failures)
    text = str(report)
    assert "cand vs ref" in text
    assert all(c.quantity in text for c in report.comparisons)
    assert len(text.splitlines()) == 2 + len(report.comparisons)


def test_equivalence_batch_is_deterministic(spec):
    spikes, labels = equivalence_batch(spec, batch_size=4, seed=3, rate=0.25)
    again, _ = equivalence_batch(spec, batch_size=4, seed=3, rate=0.25)
    assert spikes.dtype == np.float32 and labels.dtype == np.int64
    assert spikes.shape == (4, spec.time_steps, *spec.input_shape)
    assert labels.shape == (4,) and labels.min() >= 0 and labels.max() < spec.n_classes
    assert set(np.unique(spikes)) <= {0.0, 1.0} and 0.2 < spikes.mean() < 0.3
    np.testing.assert_array_equal(spikes, again)


# --- training sessions agree --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Trained:
    initial: dict[str, np.ndarray]  # session.weights() before training
    final: dict[str, np.ndarray]
    epochs: tuple[frameworks.EpochResult, ...]
    evaluation: tuple[float, float]


SESSION_SPEC = shd_spec(channels=16, hidden=32, time_steps=24)


def _session_data(n: int, seed: int) -> SpikeData:
    """``n`` random samples for SESSION_SPEC, bit-packed (30% spikes, so the network fires)."""
    spikes, labels = equivalence_batch(SESSION_SPEC, batch_size=n, seed=seed, rate=0.3)
    packed, steps = spyx_core.pack_time(spikes), SESSION_SPEC.time_steps
    return SpikeData(packed, labels.astype(np.int32), steps, kind="synthetic", name="random")


@pytest.fixture(scope="module")
def trained() -> dict[str, Trained]:
    """Two epochs of 3 steps per adapter on the same data and weights (read-only results)."""
    weights, data, test = active_weights(SESSION_SPEC), _session_data(48, 1), _session_data(40, 2)
    out = {}
    for name in NAMES:
        session = frameworks.load(name).session(
            SESSION_SPEC, weights, data, device="cpu", batch_size=16, seed=0
        )
        initial = session.weights()
        session.compile()
        epochs = []
        for epoch in range(2):
            handle = session.train_epoch(epoch)
            session.synchronize()
            epochs.append(session.fetch(handle))
        out[name] = Trained(initial, session.weights(), tuple(epochs), session.evaluate(test))
    return out


def test_session_data_makes_the_network_spike():
    data = _session_data(48, 1)
    spikes = data.unpacked().astype(np.float32)
    for s in lif_spikes(SESSION_SPEC, active_weights(SESSION_SPEC), spikes):
        assert 0.02 < s.mean() < 0.8


def test_sessions_agree_step_by_step(trained):
    reference = trained[NAMES[0]].epochs
    for name, result in trained.items():
        assert [len(e.losses) for e in result.epochs] == [3, 3]  # 48 // 16
        assert all(np.isfinite(e.losses).all() for e in result.epochs)
        first = result.epochs[0].losses[0]
        assert relative_error(first, reference[0].losses[0]) <= 1e-4, name
        np.testing.assert_allclose(result.epochs[0].losses, reference[0].losses, rtol=5e-4, err_msg=name)
        assert result.epochs[0].accuracy == pytest.approx(reference[0].accuracy, abs=1e-6), name


def test_sessions_train(trained):
    for name, result in trained.items():
        changed = [k for k in result.final if not np.array_equal(result.final[k], result.initial[k])]
        assert sorted(changed) == sorted(result.initial), name


def test_session_weights_round_trip(trained):
    weights = active_weights(SESSION_SPEC)
    for name, result in trained.items():
        assert list(result.initial) == list(weights), name
        for key, value in weights.items():
            np.testing.assert_array_equal(result.initial[key], value, err_msg=f"{name} {key}")
            assert result.final[key].shape == value.shape
            assert result.final[key].dtype == np.float32


def test_sessions_evaluate_alike(trained):
    reference_loss, reference_accuracy = trained[NAMES[0]].evaluation
    for name, result in trained.items():
        loss, accuracy = result.evaluation
        assert 0.0 <= accuracy <= 1.0
        assert loss == pytest.approx(reference_loss, rel=5e-4), name
        assert accuracy == pytest.approx(reference_accuracy, abs=1e-6), name


@pytest.mark.parametrize("name", NAMES)
def test_untrained_betas_stay_in_session_weights(name):
    spec = dataclasses.replace(SESSION_SPEC, train_beta=False)
    weights = active_weights(spec)
    session = frameworks.load(name).session(
        spec, weights, _session_data(16, 1), device="cpu", batch_size=16, seed=0
    )
    got = session.weights()
    assert list(got) == list(weights)
    for key, value in weights.items():
        np.testing.assert_array_equal(got[key], value)


# --- devices ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "device", "message"),
    [
        *((n, "tpu", "TPU") for n in ("norse", "snntorch")),
        *((n, "abacus", "unknown device 'abacus'") for n in NAMES),
    ],
)
def test_a_device_the_framework_lacks_is_unsupported(name, device, message):
    adapter = frameworks.load(name)
    with pytest.raises(Unsupported, match=message):
        adapter.device_name(device)
    with pytest.raises(Unsupported, match=message):
        _session(adapter, device)


def _session(adapter, device: str):
    weights = init_weights(SESSION_SPEC, seed=0)
    return adapter.session(
        SESSION_SPEC, weights, _session_data(16, 1), device=device, batch_size=16, seed=0
    )
