"""Unit tests of spyx_core: surrogates, neuron steps, bit packing, the layer runner and the trainer."""

from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

import spyx_core
from frameworks.spec import shd_spec
from frameworks.torch_base import spike_function

SURROGATES = sorted(spyx_core.SURROGATE_DERIVATIVES)
XS = np.array([-1.3, -0.4, -0.05, 0.0, 0.05, 0.3, 2.0], np.float32)  # none on a boxcar edge

# The table in spyx_core/_surrogate.py, written out again independently (numpy, float64).
TABLE = {
    "arctan": lambda x, k: 1 / (np.pi * (1 + (k * np.pi * x) ** 2)),
    "superspike": lambda x, k: 1 / (1 + k * np.abs(x)) ** 2,
    "fast_sigmoid": lambda x, k: 1 / (1 + k * np.abs(x)) ** 2,
    "tanh": lambda x, k: 4 / (np.exp(-k * x) + np.exp(k * x)) ** 2,
    "boxcar": lambda x, k: np.where(np.abs(x) < 1 / k, 0.5, 0.0),
    "triangular": lambda x, k: np.maximum(0.0, 1 - np.abs(k * x)),
}


def _jax_grads(name: str, k: float) -> np.ndarray:
    """d spike / dx of ``spyx_core.surrogate(name, k)`` at every point of XS."""
    return np.asarray(jax.vmap(jax.grad(spyx_core.surrogate(name, k)))(jnp.asarray(XS)))


# --- surrogates -------------------------------------------------------------------------------


def test_every_surrogate_has_a_default_slope_and_a_documented_formula():
    assert set(spyx_core.DEFAULT_SLOPES) == set(SURROGATES) == set(TABLE)


@pytest.mark.parametrize("name", SURROGATES)
def test_surrogate_forward_is_strict_heaviside(name):
    x = jnp.asarray([-1.0, -1e-7, 0.0, 1e-7, 1.0], jnp.float32)
    out = spyx_core.surrogate(name)(x)
    assert out.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(out), [0, 0, 0, 1, 1])


@pytest.mark.parametrize("name", SURROGATES)
@pytest.mark.parametrize("slope", [None, 5.0])
def test_surrogate_gradient_is_the_tabulated_derivative(name, slope):
    k = spyx_core.DEFAULT_SLOPES[name] if slope is None else slope
    grads = _jax_grads(name, slope)
    expected = spyx_core.SURROGATE_DERIVATIVES[name](jnp.asarray(XS), k, jnp)
    np.testing.assert_allclose(grads, np.asarray(expected), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(grads, TABLE[name](XS.astype(np.float64), k), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize(
    ("builder", "name"),
    [
        (spyx_core.arctan, "arctan"),
        (spyx_core.superspike, "superspike"),
        (spyx_core.fast_sigmoid, "fast_sigmoid"),
        (spyx_core.boxcar, "boxcar"),
        (spyx_core.triangular, "triangular"),
    ],
)
def test_named_builders_use_the_default_slope(builder, name):
    got = np.asarray(jax.vmap(jax.grad(builder()))(jnp.asarray(XS)))
    np.testing.assert_array_equal(got, _jax_grads(name, None))


@pytest.mark.parametrize("call", [spyx_core.surrogate, spyx_core.surrogate_derivative])
def test_unknown_surrogate_lists_the_known_ones(call):
    with pytest.raises(ValueError, match="unknown surrogate 'sigmoidal'") as error:
        call("sigmoidal")
    for name in SURROGATES:
        assert name in str(error.value)


@pytest.mark.parametrize("name", SURROGATES)
def test_torch_spike_matches_jax(name):
    k = 3.0
    spike = spike_function(
        shd_spec(channels=4, hidden=4, time_steps=8, surrogate=name, surrogate_slope=k)
    )
    x = torch.tensor(XS, requires_grad=True)
    out = spike(x)
    out.sum().backward()
    np.testing.assert_array_equal(out.detach().numpy(), (XS > 0).astype(np.float32))
    # atol: 1 - tanh(kx)^2 cancels in float32 at large |kx|; torch and XLA round tanh differently.
    np.testing.assert_allclose(x.grad.numpy(), _jax_grads(name, k), rtol=1e-6, atol=5e-7)


# --- neuron steps: golden traces from the docstring equations ------------------------------------


def _trace(step, xs, v0=0.0, **params) -> tuple[np.ndarray, np.ndarray]:
    """Runs ``step`` over the inputs ``xs`` [T, ...]; returns outputs and membranes, [T, ...] each."""
    v = jnp.full(np.shape(xs)[1:], v0, jnp.float32)
    outs, vs = [], []
    for x in jnp.asarray(xs, jnp.float32):
        out, v = step(x, v, **params)
        outs.append(out)
        vs.append(v)
    return np.asarray(jnp.stack(outs)), np.asarray(jnp.stack(vs))


HEAVISIDE = spyx_core.surrogate("arctan")


def test_lif_golden_trace():
    # beta 0.5, theta 1: v = 0.5 v + x - s[t-1]; dyadic values, so float32 is exact.
    spikes, v = _trace(
        spyx_core.lif_step,
        [1.0, 0.0, 1.0, 0.0, 1.0],
        beta=jnp.float32(0.5),
        theta=1.0,
        spike_fn=HEAVISIDE,
    )
    # t0 v == theta: no spike (H(0) = 0), so no reset at t1; t2 spikes; t3 subtracts theta.
    np.testing.assert_array_equal(v, [1.0, 0.5, 1.25, -0.375, 0.8125])
    np.testing.assert_array_equal(spikes, [0, 0, 1, 0, 0])


def test_lif_clips_beta_to_the_unit_interval():
    # Neuron 0: beta 1.5 -> 1; neuron 1: beta -0.5 -> 0. Theta 1.
    xs = [[0.5, 1.25]] * 4
    spikes, v = _trace(
        spyx_core.lif_step, xs, beta=jnp.asarray([1.5, -0.5]), theta=1.0, spike_fn=HEAVISIDE
    )
    np.testing.assert_array_equal(v[:, 0], [0.5, 1.0, 1.5, 1.0])  # 1.0 - 0 + 0.5, then - 1 reset
    np.testing.assert_array_equal(spikes[:, 0], [0, 0, 1, 0])
    np.testing.assert_array_equal(v[:, 1], [1.25, 0.25, 1.25, 0.25])  # no memory; reset after spike
    np.testing.assert_array_equal(spikes[:, 1], [1, 0, 1, 0])


def test_lif_theta_sets_threshold_and_reset():
    spikes, v = _trace(
        spyx_core.lif_step, [1.5, 1.5, 0.0], beta=jnp.float32(1.0), theta=2.0, spike_fn=HEAVISIDE
    )
    np.testing.assert_array_equal(v, [1.5, 3.0, 1.0])
    np.testing.assert_array_equal(spikes, [0, 1, 0])


def test_if_golden_trace():
    # theta 1: v = v + x - s[t-1]; v reaching exactly theta does not spike.
    spikes, v = _trace(spyx_core.if_step, [0.5] * 5, theta=1.0, spike_fn=HEAVISIDE)
    np.testing.assert_array_equal(v, [0.5, 1.0, 1.5, 1.0, 1.5])
    np.testing.assert_array_equal(spikes, [0, 0, 1, 0, 1])


def test_li_golden_trace_and_clipping():
    xs = [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [2.0, 2.0, 2.0]]
    out, v = _trace(spyx_core.li_step, xs, beta=jnp.asarray([0.5, 2.0, -1.0]))
    np.testing.assert_array_equal(v, [[1.0, 1.0, 1.0], [0.5, 1.0, 0.0], [2.25, 3.0, 2.0]])
    np.testing.assert_array_equal(out, v)


@pytest.mark.parametrize("v_prev", [0.5, 1.5])  # below threshold / spiked at t-1 (reset applied)
def test_lif_reset_is_detached(v_prev):
    beta = jnp.float32(0.7)

    def v_next(v):
        return spyx_core.lif_step(jnp.float32(0.2), v, beta=beta, theta=1.0, spike_fn=HEAVISIDE)[1]

    assert jax.grad(v_next)(jnp.float32(v_prev)) == beta  # exactly: no path through the reset
    if_grad = jax.grad(lambda v: spyx_core.if_step(0.2, v, theta=1.0, spike_fn=HEAVISIDE)[1])
    assert float(if_grad(jnp.float32(v_prev))) == 1.0


# --- bit packing --------------------------------------------------------------------------------


@pytest.mark.parametrize("time_steps", [13, 16])
def test_pack_unpack_round_trip(time_steps):
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 3, size=(5, time_steps, 7)).astype(np.uint8)  # any non-zero is a spike
    spikes = (counts != 0).astype(np.uint8)
    packed = spyx_core.pack_time(counts)
    assert packed.dtype == np.uint8
    assert packed.shape == (5, -(-time_steps // 8), 7)
    np.testing.assert_array_equal(spyx_core.unpack_time_numpy(packed, time_steps), spikes)
    on_device = spyx_core.unpack_time(jnp.asarray(packed), time_steps)
    assert on_device.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(on_device), np.moveaxis(spikes, 1, 0))


# --- run_sequential -----------------------------------------------------------------------------


def _small_net(impl: str):
    def forward(x):
        layers = [
            hk.Linear(12, with_bias=False),
            spyx_core.LIF(12, spike_fn=spyx_core.arctan()),
            hk.Linear(5, with_bias=False),
            spyx_core.LI(5),
        ]
        return spyx_core.run_sequential(layers, x, impl=impl)

    return hk.without_apply_rng(hk.transform(forward))


def _hidden_spikes(x):
    """The first two layers of ``_small_net`` (same parameter names): the LIF spikes."""
    layers = [hk.Linear(12, with_bias=False), spyx_core.LIF(12, spike_fn=spyx_core.arctan())]
    return spyx_core.run_sequential(layers, x)


def test_run_sequential_scan_equals_layerwise():
    x = (jax.random.uniform(jax.random.PRNGKey(1), (20, 3, 8)) < 0.5).astype(jnp.float32)
    params = _small_net("layerwise").init(jax.random.PRNGKey(0), x)
    params = jax.tree.map(lambda p: p * 2, params)  # stronger weights: the LIF layer spikes
    hidden = hk.without_apply_rng(hk.transform(_hidden_spikes)).apply(params, x)
    assert 0.05 < float(hidden.mean()) < 0.8

    out, grads = {}, {}
    for impl in spyx_core.IMPLEMENTATIONS:
        apply = _small_net(impl).apply

        def loss(p, apply=apply):
            readout = apply(p, x)
            return jnp.sum(readout**2), readout

        (_, out[impl]), grads[impl] = jax.jit(jax.value_and_grad(loss, has_aux=True))(params)
    np.testing.assert_allclose(out["scan"], out["layerwise"], rtol=1e-6, atol=1e-6)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
        grads["scan"],
        grads["layerwise"],
    )


def test_run_sequential_rejects_unknown_impl():
    with pytest.raises(ValueError, match="unknown impl 'loop'"):
        _small_net("loop").init(jax.random.PRNGKey(0), jnp.zeros((2, 1, 8)))


# --- make_trainer -------------------------------------------------------------------------------


def _linear_apply(params, x):
    """A stateless readout ``[T, B, C] @ [C, K]``."""
    return x @ params["w"]


def _staged(n: int, time_steps: int = 4, channels: int = 3) -> spyx_core.StagedData:
    spikes = np.random.default_rng(n).random((n, time_steps, channels)) < 0.5
    return spyx_core.StagedData(
        jnp.asarray(spyx_core.pack_time(spikes)), jnp.arange(n, dtype=jnp.int32) % 2
    )


def test_epoch_drops_the_last_batch_and_uses_the_given_shuffle():
    n, batch = 20, 8
    data = spyx_core.StagedData(_staged(n).spikes, jnp.arange(n, dtype=jnp.int32))

    def label_sum(readout, labels):  # reveals which samples each step saw
        return labels.sum().astype(jnp.float32) + 0.0 * readout.sum()

    trainer = spyx_core.make_trainer(
        _linear_apply,
        optax.sgd(0.1),
        batch_size=batch,
        time_steps=4,
        loss=label_sum,
        shuffle=lambda key, n: jnp.arange(n)[::-1],
    )
    state = trainer.init({"w": jnp.zeros((3, 2))})
    _, metrics = jax.jit(trainer.epoch)(state, data, jax.random.PRNGKey(0))
    assert metrics.loss.shape == metrics.accuracy.shape == (n // batch,)
    np.testing.assert_array_equal(metrics.loss, [sum(range(12, 20)), sum(range(4, 12))])


def test_epoch_needs_one_full_batch():
    trainer = spyx_core.make_trainer(_linear_apply, optax.sgd(0.1), batch_size=8, time_steps=4)
    state = trainer.init({"w": jnp.zeros((3, 2))})
    with pytest.raises(ValueError, match="cannot fill one batch"):
        trainer.epoch(state, _staged(5), jax.random.PRNGKey(0))


def test_evaluate_covers_every_sample_including_a_partial_batch():
    data = _staged(20)  # batches of 8, 8 and 4
    params = {"w": jax.random.normal(jax.random.PRNGKey(0), (3, 2))}
    trainer = spyx_core.make_trainer(_linear_apply, optax.sgd(0.1), batch_size=8, time_steps=4)
    loss, accuracy = jax.jit(trainer.evaluate)(params, data)
    readout = _linear_apply(params, spyx_core.unpack_time(data.spikes, 4))
    expected_loss = spyx_core.integral_crossentropy(readout, data.labels)
    expected_accuracy = spyx_core.integral_accuracy(readout, data.labels)
    assert float(loss) == pytest.approx(float(expected_loss), rel=1e-6)
    assert float(accuracy) == pytest.approx(float(expected_accuracy), abs=1e-7)
    assert 0 < float(expected_accuracy) < 1  # a partial last batch would show


def _banded(n: int, *, time_steps: int, channels: int, classes: int) -> spyx_core.StagedData:
    """An easy task: class ``k`` fires densely in the ``k``-th band of channels."""
    rng = np.random.default_rng(0)
    labels = np.arange(n) % classes
    in_band = np.arange(channels)[None, :] // (channels // classes) == labels[:, None]
    rate = np.where(in_band, 0.4, 0.05)[:, None, :]
    spikes = rng.random((n, time_steps, channels)) < rate
    return spyx_core.StagedData(jnp.asarray(spyx_core.pack_time(spikes)), jnp.asarray(labels, jnp.int32))


def test_training_lowers_the_loss():
    staged = _banded(256, time_steps=32, channels=16, classes=4)

    def forward(x):
        layers = [
            hk.Linear(32, with_bias=False),
            spyx_core.LIF(32, spike_fn=spyx_core.arctan()),
            hk.Linear(4, with_bias=False),
            spyx_core.LI(4),
        ]
        return spyx_core.run_sequential(layers, x)

    net = hk.without_apply_rng(hk.transform(forward))
    params = net.init(jax.random.PRNGKey(0), jnp.zeros((32, 1, 16)))
    trainer = spyx_core.make_trainer(net.apply, optax.adam(1e-2), batch_size=32, time_steps=32)
    evaluate, epoch = jax.jit(trainer.evaluate), jax.jit(trainer.epoch)
    before, _ = evaluate(params, staged)
    state = trainer.init(params)
    for i in range(3):
        state, metrics = epoch(state, staged, jax.random.PRNGKey(i))
    after, accuracy = evaluate(state.params, staged)
    assert metrics.loss.shape == (8,)
    assert float(after) < 0.8 * float(before)
    assert float(accuracy) > 0.5  # chance is 0.25


def test_clip_decay_passes_the_whole_gradient_on_the_closed_interval():
    """The canonical boundary gradient of clip(decay, 0, 1): 1 at 0 and 1 (torch.clamp's), 0 outside;
    jnp.clip alone would give 0.5 at the boundaries."""
    decays = jnp.array([-0.05, 0.0, 1e-7, 0.5, 1.0, 1.3])
    grads = jax.grad(lambda d: spyx_core.clip_decay(d).sum())(decays)
    np.testing.assert_array_equal(np.asarray(grads), [0, 1, 1, 1, 1, 0])
    expected = np.array([0, 0, 1e-7, 0.5, 1, 1], np.float32)
    np.testing.assert_array_equal(np.asarray(spyx_core.clip_decay(decays)), expected)
    assert float(jax.grad(lambda d: jnp.clip(d, 0.0, 1.0))(1.0)) == 0.5  # why it exists
