"""Each framework as its users run it (docs/idioms.md).

- A batch-first JAX network (``JaxAdapter.batch_first``, the layout of ``spyx@paper``) computes and
  trains exactly what the same network computes time-major.
- ``spyx@paper`` (the Spyx paper notebook's idiom) computes and trains what ``spyx`` does, and its
  rows say which idiom ran; Table 1's Spyx entry is ``spyx@paper``.
- The snnTorch ablation variants are declared inexact, and each computes the canonical model with
  exactly the change it declares: beta fixed at 0.95, or snnTorch's atan, whose derivative
  ``1 / (1 + (pi x)^2)`` is pi times the canonical arctan's at slope 1.
"""

from __future__ import annotations

import dataclasses
import math

import jax.numpy as jnp
import numpy as np
import pytest

import frameworks
import spyx_core
from frameworks.adapter import SpikeData
from frameworks.adapters.snntorch_adapter import ABLATION_VARIANTS, DIFFERENCES, SCALAR_BETA
from frameworks.adapters.spyx_core_adapter import SpyxCoreAdapter
from frameworks.conformance import TASKS, reference_adapter
from frameworks.conformance.equivalence import compare, relative_error
from frameworks.jax_base import (
    time_major_output,
    unpack_bits_batch_first,
    unpack_counts_batch_first,
)
from frameworks.spec import init_weights, is_decay, micro_input, micro_spec
from harness.cli import build_parser
from harness.grids import micro, table1

TASK = TASKS["shd"]
TIGHT = {"readout_rtol": 1e-6, "loss_rtol": 1e-6, "grad_rtol": 1e-5}
"""Two implementations of one network: float32 rounding apart only."""


def _load(name: str):
    try:
        return frameworks.load(name)
    except frameworks.FrameworkUnavailable as error:
        pytest.skip(f"{name} is not installed here: {error}")


def _assert_trains_as(reference, candidate) -> None:
    """``candidate`` agrees with ``reference`` on the task's batch (``compare``), and its session
    on those 8 samples (one step of B=8) evaluates to the reference's loss before training, reports
    it as the step's loss (a batch mean: the sample order does not change it), and takes Adam's first
    step, ``w - lr * g / (|g| + eps)``, on the reference's gradients."""
    spikes, labels = TASK.batch(TASK.batch_size)
    weights = TASK.weights()
    report = compare(reference, candidate, TASK.spec, weights, spikes, labels, **TIGHT)
    assert report.ok, f"\n{report}"
    loss, grads = reference.loss_and_grads(TASK.spec, weights, spikes, labels)
    data = SpikeData(spyx_core.pack_time(spikes), labels.astype(np.int32), TASK.spec.time_steps,
                     "synthetic", "random")  # fmt: skip
    session = candidate.session(TASK.spec, weights, data, device="cpu", batch_size=8, seed=0)
    assert session.evaluate(data)[0] == pytest.approx(loss, rel=1e-6)
    handle = session.train_epoch(0)
    session.synchronize()
    assert session.fetch(handle).losses.tolist() == pytest.approx([loss], rel=1e-6)
    lr, trained = TASK.spec.learning_rate, session.weights()
    for key, grad in grads.items():
        expected = weights[key] - lr * grad / (np.abs(grad) + 1e-8)
        np.testing.assert_allclose(trained[key], expected, rtol=1e-6, atol=1e-3 * lr, err_msg=key)


def _lif_spikes(spec, weights, spikes) -> np.ndarray:
    """The micro network's spikes ``[T, B, n]`` by the equations of frameworks/spec.py (numpy)."""
    beta, v, s, out = np.clip(weights["1.beta"], 0, 1), 0.0, 0.0, []
    for x in np.moveaxis(spikes, 1, 0).astype(np.float64) @ weights["0.weight"]:
        v = beta * v + x - spec.theta * s
        s = (v > spec.theta).astype(np.float64)
        out.append(s)
    return np.stack(out)


# --- a batch-first JAX network ------------------------------------------------------------------


class BatchFirstCore(SpyxCoreAdapter):
    """spyx_core's network written batch-first: the same maths in the other layout."""

    name = "spyx_core-batch-first"
    batch_first = True

    def network(self, spec, weights):
        return _batch_first(super().network(spec, weights))

    def evaluation_network(self, spec, weights):
        return _batch_first(super().evaluation_network(spec, weights))


def _batch_first(apply):
    return lambda params, x: jnp.swapaxes(apply(params, jnp.swapaxes(x, 0, 1)), 0, 1)


def test_batch_first_unpacking_is_the_time_major_one_transposed():
    spikes, _ = TASK.batch(4)
    packed = spyx_core.pack_time(spikes)
    bits = np.asarray(unpack_bits_batch_first(jnp.asarray(packed), TASK.spec.time_steps))
    assert bits.dtype == np.uint8
    np.testing.assert_array_equal(bits, spikes)
    counts = np.random.default_rng(0).integers(0, 6, size=(3, 10, 5)).astype(np.uint8)
    unpacked = unpack_counts_batch_first(jnp.asarray(spyx_core.pack_counts(counts)), 10)
    np.testing.assert_array_equal(np.asarray(unpacked), counts)
    out = time_major_output(lambda params, x: x * params)(2.0, jnp.ones((3, 4, 1)))
    assert out.shape == (4, 3, 1)


def test_a_batch_first_network_computes_and_trains_as_the_time_major_one():
    _assert_trains_as(reference_adapter(), BatchFirstCore())


def test_batch_first_kernels_give_time_major_outputs():
    spec = micro_spec(16, time_steps=12)
    weights = init_weights(spec, seed=0)
    weights["0.weight"] = (4.0 * weights["0.weight"]).astype(np.float32)
    spikes = micro_input(spec, batch_size=4, seed=0)
    kernels = BatchFirstCore().kernels(spec, weights, spikes, device="cpu")
    out = kernels.output(kernels.forward())
    assert out.shape == (12, 4, 16) and 0.05 < out.mean() < 0.8
    np.testing.assert_array_equal(out, _lif_spikes(spec, weights, spikes))


# --- Spyx as the paper's notebook runs it -------------------------------------------------------


def test_spyx_paper_computes_and_trains_what_spyx_does():
    spyx, paper = _load("spyx"), _load("spyx@paper")
    assert paper.batch_first and not spyx.batch_first
    assert not paper.exact and paper.semantics == spyx.semantics
    _assert_trains_as(spyx, paper)


def test_spyx_rows_name_the_idiom_that_ran():
    paper, fast = _load("spyx@paper").describe(), _load("spyx@scan").describe()
    assert "hk.DeepRNN" in paper and "dynamic_unroll(time_major=False)" in paper
    assert "unroll=32" in paper and "batch-first" in paper
    assert "impl=scan, time-major unroll=1" in fast


def test_table1_runs_spyx_as_the_paper_did_and_keeps_the_fast_one_reachable():
    cells = table1(["spyx_core", "spyx", "spyx@scan"], device="cpu", epochs=2)
    assert {c.framework for c in cells} == {"spyx_core", "spyx@paper", "spyx@scan"}
    assert len(cells) == 2 * 3 * 3


def test_grids_take_their_sizes():
    assert sorted({c.hidden for c in micro(["snntorch"], device="cpu")}) == [512, 4096, 16384]
    assert [c.hidden for c in micro(["snntorch"], device="cpu", sizes=(512, 4096))] == [512, 4096]
    args = build_parser().parse_args(["reproduce", "micro", "--sizes", "512,4096"])
    assert args.sizes == (512, 4096)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["reproduce", "micro", "--sizes", "0"])


# --- snnTorch with its own defaults -------------------------------------------------------------


@pytest.mark.parametrize("variant", sorted(ABLATION_VARIANTS))
def test_snntorch_ablation_variants_declare_what_they_drop(variant):
    adapter = frameworks.load(f"snntorch@{variant}")
    dropped = [name for name, value in ABLATION_VARIANTS[variant].items() if value is False]
    assert not adapter.exact
    assert adapter.semantics == "; ".join(DIFFERENCES[name] for name in dropped)
    canonical = frameworks.load("snntorch")
    assert canonical.exact and canonical.semantics == ""


def _at_scalar_beta(weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.full_like(v, SCALAR_BETA) if is_decay(k) else v for k, v in weights.items()}


def test_scalar_beta_is_the_canonical_model_with_every_beta_fixed_at_095():
    spec = dataclasses.replace(TASK.spec, train_beta=False)
    spikes, labels = TASK.batch(TASK.batch_size)
    weights, scalar = TASK.weights(), frameworks.load("snntorch@scalar-beta")
    report = compare(frameworks.load("snntorch"), scalar, spec, _at_scalar_beta(weights), spikes, labels)
    assert report.ok, f"\n{report}"
    assert {c.quantity for c in report.comparisons} == {"readout", "loss"} | {
        f"grad {k}" for k in weights if not is_decay(k)
    }
    # the betas it is given make no difference: it runs on 0.95
    np.testing.assert_array_equal(
        scalar.readout(spec, weights, spikes), scalar.readout(spec, _at_scalar_beta(weights), spikes)
    )


def _micro_gradients(adapter, spec, weights, spikes) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    kernels = adapter.kernels(spec, weights, spikes, device="cpu")
    return kernels.output(kernels.forward()), kernels.gradients(kernels.forward_backward())


@pytest.mark.parametrize(
    ("variant", "beta"), [("atan", None), ("defaults", SCALAR_BETA)], ids=["atan", "defaults"]
)
def test_snntorch_atan_is_pi_times_the_canonical_arctan_at_slope_1(variant, beta):
    """One LIF layer with a detached reset: each gradient path crosses one surrogate, so snnTorch's
    atan derivative 1 / (1 + (pi x)^2) = pi / (pi (1 + (1 pi x)^2)) gives pi times the canonical
    arctan's gradients at slope 1 (the canonical ``snntorch``), whatever slope the spec names."""
    spec = micro_spec(16, time_steps=20)
    weights = init_weights(spec, seed=0)
    weights["0.weight"] = (4.0 * weights["0.weight"]).astype(np.float32)
    if beta is not None:
        weights = _at_scalar_beta(weights)
    spikes = micro_input(spec, batch_size=4, seed=0)
    slope_1 = dataclasses.replace(spec, surrogate_slope=1.0, train_beta=beta is None)
    out, grads = _micro_gradients(frameworks.load("snntorch"), slope_1, weights, spikes)
    got_out, got = _micro_gradients(frameworks.load(f"snntorch@{variant}"), spec, weights, spikes)
    assert 0.05 < out.mean() < 0.8  # the layer fires and resets
    np.testing.assert_array_equal(out, _lif_spikes(spec, weights, spikes))
    np.testing.assert_array_equal(got_out, out)
    assert sorted(got) == sorted(grads) == (["0.weight"] if beta else ["0.weight", "1.beta"])
    for key, value in grads.items():
        assert relative_error(got[key], math.pi * value) < 1e-5, key
        assert relative_error(got[key], value) > 1.0  # not the canonical slope-1 gradient
