"""The neuron zoo: golden traces and surrogate gradients of every step, cores, counts, regularisers,
the spec's new layers and how each adapter meets them.

Golden traces are computed by hand from the equations in ``spyx_core/_neurons.py`` and
``_recurrent.py`` with dyadic numbers, so float32 reproduces them exactly. Gradients are checked
against the chain rule written out with the arctan surrogate derivative.
"""

from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import frameworks
import spyx_core
from frameworks.adapters.spyx_core_adapter import from_haiku, network, to_haiku
from frameworks.spec import NEURON_TYPES, ModelSpec, init_weights, shd_spec, trained_names

SPIKE = spyx_core.arctan(2.0)


def d(u):
    """The arctan(k=2) surrogate derivative, written out again (numpy, float64)."""
    return 1.0 / (np.pi * (1.0 + (2.0 * np.pi * np.asarray(u, np.float64)) ** 2))


def f32(*values) -> jax.Array:
    return jnp.asarray(values, jnp.float32)


def trace(step, xs, state):
    """Runs ``step(x, state) -> (out, state)`` over ``xs``; returns outputs and states per step."""
    outs, states = [], []
    for x in xs:
        out, state = step(jnp.asarray(x, jnp.float32), state)
        outs.append(np.asarray(out))
        states.append(jax.tree.map(np.asarray, state))
    return np.stack(outs), states


# --- golden traces ------------------------------------------------------------------------------


def test_lif_golden_trace():
    # v = 0.5 v + x - s[t-1]: 0.75 | 0.375+0.75=1.125 (spike) | 0.5625-1 | -0.21875+1.5 (spike) | ...
    step = lambda x, v: spyx_core.lif_step(x, v, beta=f32(0.5), theta=1.0, spike_fn=SPIKE)  # noqa: E731
    spikes, vs = trace(step, [[0.75], [0.75], [0.0], [1.5], [0.25]], f32(0.0))
    np.testing.assert_array_equal(spikes[:, 0], [0, 1, 0, 1, 0])
    np.testing.assert_array_equal(np.ravel(vs), [0.75, 1.125, -0.4375, 1.28125, -0.109375])


def test_if_golden_trace_and_strict_threshold():
    # v = v + x - s[t-1]; v = 1 exactly is no spike (H is strict).
    step = lambda x, v: spyx_core.if_step(x, v, theta=1.0, spike_fn=SPIKE)  # noqa: E731
    spikes, vs = trace(step, [[0.5], [0.75], [0.25], [-0.5], [1.0]], f32(0.0))
    np.testing.assert_array_equal(spikes[:, 0], [0, 1, 0, 0, 0])
    np.testing.assert_array_equal(np.ravel(vs), [0.5, 1.25, 0.5, 0.0, 1.0])


def test_li_golden_trace():
    step = lambda x, v: spyx_core.li_step(x, v, beta=f32(0.5))  # noqa: E731
    out, _ = trace(step, [[1.0], [0.5], [0.0], [-1.0]], f32(0.0))
    np.testing.assert_array_equal(out[:, 0], [1.0, 1.0, 0.5, -0.75])


def test_cuba_lif_golden_trace():
    # i = 0.5 i + x; v = 0.5 v + i - s[t-1]
    def step(x, state):
        return spyx_core.cuba_lif_step(
            x, state, alpha=f32(0.5), beta=f32(0.5), theta=1.0, spike_fn=SPIKE
        )

    start = spyx_core.CuBaLIFState(f32(0.0), f32(0.0))
    spikes, states = trace(step, [[1.0], [0.25], [0.0], [0.0], [0.0]], start)
    np.testing.assert_array_equal(spikes[:, 0], [0, 1, 0, 0, 0])
    np.testing.assert_array_equal([s.i[0] for s in states], [1.0, 0.75, 0.375, 0.1875, 0.09375])
    np.testing.assert_array_equal([s.v[0] for s in states], [1.0, 1.25, 0.0, 0.1875, 0.1875])


def test_alif_golden_trace():
    # th = 1 + a; a = 0.5 a + 0.5 s[t-1]; v = 0.5 v + x - th[t-1] s[t-1]. The LIF spike at t=4
    # (v = 1.1875 > 1) is suppressed: the threshold has risen to 1.625.
    def step(x, state):
        return spyx_core.alif_step(
            x, state, beta=f32(0.5), gamma=f32(0.5), theta=1.0, adaptation=1.0, spike_fn=SPIKE
        )

    start = spyx_core.ALIFState(f32(0.0), f32(0.0))
    spikes, states = trace(step, [[1.5], [0.0], [1.5], [1.5], [0.0]], start)
    np.testing.assert_array_equal(spikes[:, 0], [1, 0, 1, 0, 0])
    np.testing.assert_array_equal([s.v[0] for s in states], [1.5, -0.25, 1.375, 0.9375, 0.46875])
    np.testing.assert_array_equal([s.a[0] for s in states], [0.0, 0.5, 0.25, 0.625, 0.3125])


W_REC = np.array([[0.0, 0.5], [-0.25, 0.0]], np.float32)  # row j: neuron j's outgoing weights
RECURRENT_XS = [[[1.5, 0.0]], [[0.0, 0.75]], [[0.0, 0.0]], [[0.0, 0.0]]]  # [T, B=1, H=2]


def test_rlif_golden_trace():
    # v = 0.5 v + x + s[t-1] @ W - s[t-1]: neuron 0 fires, excites neuron 1 (+0.5), which fires
    # and inhibits neuron 0 (-0.25).
    def step(x, v):
        w = jnp.asarray(W_REC)
        return spyx_core.rlif_step(x, v, w_rec=w, beta=f32(0.5, 0.5), theta=1.0, spike_fn=SPIKE)

    spikes, vs = trace(step, RECURRENT_XS, jnp.zeros((1, 2), jnp.float32))
    np.testing.assert_array_equal(spikes[:, 0], [[1, 0], [0, 1], [0, 0], [0, 0]])
    expected = [[1.5, 0.0], [-0.25, 1.25], [-0.375, -0.375], [-0.1875, -0.1875]]
    np.testing.assert_array_equal(np.stack(vs)[:, 0], expected)


def test_rif_golden_trace():
    def step(x, v):
        return spyx_core.rif_step(x, v, w_rec=jnp.asarray(W_REC), theta=1.0, spike_fn=SPIKE)

    spikes, vs = trace(step, RECURRENT_XS, jnp.zeros((1, 2), jnp.float32))
    np.testing.assert_array_equal(spikes[:, 0], [[1, 0], [0, 1], [0, 0], [0, 0]])
    expected = [[1.5, 0.0], [0.5, 1.25], [0.25, 0.25], [0.25, 0.25]]
    np.testing.assert_array_equal(np.stack(vs)[:, 0], expected)


# --- surrogate gradients of one step --------------------------------------------------------------


def grads(fn, *args):
    """Gradient of the scalar ``fn`` with respect to every argument, as float64 numpy."""
    out = jax.grad(fn, argnums=tuple(range(len(args))))(*(jnp.asarray(a, jnp.float32) for a in args))
    return [np.asarray(g, np.float64) for g in out]


def test_lif_gradient_through_surrogate_with_detached_reset():
    # v0 = 1.25 > theta: the reset is active but detached, so ds/dv0 = d(u) * beta only.
    x, v0, beta = 0.375, 1.25, 0.5
    u = beta * v0 + x - 1.0 - 1.0

    def spike(x, v0, beta):
        return spyx_core.lif_step(x, v0, beta=beta, theta=1.0, spike_fn=SPIKE)[0]

    gx, gv, gb = grads(spike, x, v0, beta)
    np.testing.assert_allclose([gx, gv, gb], [d(u), d(u) * beta, d(u) * v0], rtol=1e-5)


def test_if_gradient_through_surrogate():
    x, v0 = 0.375, 1.25
    u = v0 + x - 1.0 - 1.0
    gx, gv = grads(lambda x, v: spyx_core.if_step(x, v, theta=1.0, spike_fn=SPIKE)[0], x, v0)
    np.testing.assert_allclose([gx, gv], [d(u), d(u)], rtol=1e-5)


def test_li_gradient():
    gx, gv, gb = grads(lambda x, v, b: spyx_core.li_step(x, v, beta=b)[0], 0.5, 0.75, 0.25)
    np.testing.assert_allclose([gx, gv, gb], [1.0, 0.25, 0.75], rtol=1e-6)


def test_cuba_lif_gradient_through_surrogate():
    x, v0, i0, alpha, beta = 0.25, 1.5, 0.5, 0.75, 0.5
    u = beta * v0 + alpha * i0 + x - 1.0 - 1.0  # v0 > theta: reset active, detached

    def spike(x, v0, i0, alpha, beta):
        state = spyx_core.CuBaLIFState(v0, i0)
        return spyx_core.cuba_lif_step(x, state, alpha=alpha, beta=beta, theta=1.0, spike_fn=SPIKE)[0]

    got = grads(spike, x, v0, i0, alpha, beta)
    expected = [d(u), d(u) * beta, d(u) * alpha, d(u) * i0, d(u) * v0]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_alif_gradient_through_surrogate_and_adaptation():
    x, v0, a0, beta, gamma, adapt = 0.5, 1.5, 0.25, 0.5, 0.75, 1.0
    th0 = 1.0 + adapt * a0
    p = float(v0 > th0)  # the previous spike (forward value)
    a = gamma * a0 + (1 - gamma) * p
    u = beta * v0 + x - th0 * p - (1.0 + adapt * a)

    def spike(x, v0, a0, beta, gamma):
        state = spyx_core.ALIFState(v0, a0)
        return spyx_core.alif_step(
            x, state, beta=beta, gamma=gamma, theta=1.0, adaptation=adapt, spike_fn=SPIKE
        )[0]

    got = grads(spike, x, v0, a0, beta, gamma)
    dp = d(v0 - th0)  # the previous spike's surrogate: it feeds the adaptation, not the reset
    expected = [
        d(u),
        d(u) * (beta - adapt * (1 - gamma) * dp),
        d(u) * -adapt * (gamma - adapt * (1 - gamma) * dp),
        d(u) * v0,
        d(u) * -adapt * (a0 - p),
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.parametrize("leaky", [True, False], ids=["RLIF", "RIF"])
def test_recurrent_gradient_through_surrogate(leaky):
    x = np.array([[0.25, -0.5]], np.float32)
    v0 = np.array([[1.5, 0.75]], np.float32)  # neuron 0 spiked at t-1, neuron 1 did not
    beta = np.array([0.5, 0.75], np.float32) if leaky else np.ones(2, np.float32)
    c = np.array([[1.0, -2.0]], np.float32)  # weights of the scalar being differentiated
    p = (v0 > 1.0).astype(np.float64)
    u = beta * v0 + x + p @ W_REC - p - 1.0

    def loss(x, v0, w):
        if leaky:
            s, _ = spyx_core.rlif_step(x, v0, w_rec=w, beta=jnp.asarray(beta), theta=1.0, spike_fn=SPIKE)
        else:
            s, _ = spyx_core.rif_step(x, v0, w_rec=w, theta=1.0, spike_fn=SPIKE)
        return jnp.sum(jnp.asarray(c) * s)

    gx, gv, gw = grads(loss, x, v0, W_REC)
    g = c * d(u)  # dL/du [1, H]
    np.testing.assert_allclose(gx, g, rtol=1e-5)
    np.testing.assert_allclose(gw, p.T @ g, rtol=1e-5, atol=1e-12)  # dL/dW_ij = p_i g_j
    feedback = (W_REC @ g.T).T * d(v0 - 1.0)  # through the fed-back spike's surrogate
    np.testing.assert_allclose(gv, g * beta + feedback, rtol=1e-5)


# --- Haiku cores ---------------------------------------------------------------------------------


def unroll(core_fn, xs, params=None):
    """Runs the core built by ``core_fn`` over ``xs`` [T, B, H]; returns (outputs, params)."""

    def forward(x):
        core = core_fn()
        out, _ = hk.dynamic_unroll(core, x, core.initial_state(x.shape[1]))
        return out

    net = hk.without_apply_rng(hk.transform(forward))
    xs = jnp.asarray(xs, jnp.float32)
    params = net.init(jax.random.key(0), xs) if params is None else params
    return np.asarray(net.apply(params, xs)), params


def test_cores_with_constant_decays_reproduce_the_golden_traces():
    fixed = {"theta": 1.0, "spike_fn": SPIKE}
    cuba, _ = unroll(
        lambda: spyx_core.CuBaLIF(1, alpha=0.5, beta=0.5, trainable_decays=False, **fixed),
        [[[1.0]], [[0.25]], [[0.0]]],
    )
    np.testing.assert_array_equal(cuba.ravel(), [0, 1, 0])
    alif, params = unroll(
        lambda: spyx_core.ALIF(1, beta=0.5, gamma=0.5, trainable_decays=False, **fixed),
        [[[1.5]], [[0.0]], [[1.5]], [[1.5]]],
    )
    np.testing.assert_array_equal(alif.ravel(), [1, 0, 1, 0])
    assert params == {}  # constant decays are no parameters


@pytest.mark.parametrize("leaky", [True, False], ids=["RLIF", "RIF"])
def test_recurrent_cores_reproduce_the_golden_trace(leaky):
    if leaky:
        make = lambda: spyx_core.RLIF(2, beta=0.5, trainable_beta=False, spike_fn=SPIKE)  # noqa: E731
    else:
        make = lambda: spyx_core.RIF(2, spike_fn=SPIKE)  # noqa: E731
    _, params = unroll(make, RECURRENT_XS)
    (name,) = params
    assert params[name]["w_rec"].shape == (2, 2)
    spikes, _ = unroll(make, RECURRENT_XS, {name: {"w_rec": jnp.asarray(W_REC)}})
    np.testing.assert_array_equal(spikes[:, 0], [[1, 0], [0, 1], [0, 0], [0, 0]])


def test_trainable_decays_are_parameters_with_the_documented_defaults():
    _, params = unroll(lambda: spyx_core.ALIF(4), np.zeros((2, 1, 4)))
    (alif,) = params.values()
    np.testing.assert_array_equal(alif["gamma"], np.full(4, 0.9, np.float32))
    assert np.all((alif["beta"] >= 0) & (alif["beta"] <= 1))
    _, params = unroll(lambda: spyx_core.CuBaLIF(4), np.zeros((2, 1, 4)))
    assert set(next(iter(params.values()))) == {"alpha", "beta"}


def test_recurrent_layers_must_be_one_dimensional():
    with pytest.raises(ValueError, match="one-dimensional"):
        hk.transform(lambda: spyx_core.RLIF((2, 3))).init(None)


# --- spike counts and regularisers ----------------------------------------------------------------


def test_run_sequential_returns_the_spike_counts_of_the_same_pass():
    def layers():
        return [
            hk.Linear(6, with_bias=False),
            spyx_core.CuBaLIF(6, spike_fn=SPIKE),
            hk.Linear(5, with_bias=False),
            spyx_core.RLIF(5, spike_fn=SPIKE),
            hk.Linear(3, with_bias=False),
            spyx_core.LI(3),
        ]

    def forward(x):  # the same module instances throughout: one set of parameters
        net = layers()
        outputs = {}
        for impl in spyx_core.IMPLEMENTATIONS:
            outputs[impl] = spyx_core.run_sequential(net, x, impl=impl, return_counts=True)
        plain = spyx_core.run_sequential(net, x)
        first = spyx_core.run_sequential(net[:2], x)  # the hidden spikes, the slow way
        return outputs, plain, (first, spyx_core.run_sequential(net[2:4], first))

    x = 2.0 * jax.random.bernoulli(jax.random.key(1), 0.4, (12, 3, 4)).astype(jnp.float32)
    net = hk.without_apply_rng(hk.transform(forward))
    params = net.init(jax.random.key(2), x)
    outputs, plain, spikes = jax.jit(net.apply)(params, x)
    for impl, (out, counts) in outputs.items():
        np.testing.assert_array_equal(out, plain, err_msg=impl)
        assert [c.shape for c in counts] == [(3, 6), (3, 5)]
        for count, s in zip(counts, spikes, strict=True):
            np.testing.assert_array_equal(count, np.asarray(s).sum(axis=0), err_msg=impl)
    assert float(outputs["scan"][1][0].sum()) > 0


COUNTS = [np.array([[0.0, 2.0, 5.0], [2.0, 0.0, 5.0]], np.float32)]  # one layer, B=2, N=3


def test_silence_penalty_formula():
    # batch means [1, 1, 5]; min 2: deficits [1, 1, 0] -> 1 + 1
    assert float(spyx_core.silence_penalty(COUNTS, 2.0)) == pytest.approx(2.0)
    assert float(spyx_core.silence_penalty(COUNTS + COUNTS, 2.0)) == pytest.approx(4.0)
    assert float(spyx_core.silence_penalty(COUNTS, 1.0)) == 0.0
    grad = jax.grad(lambda c: spyx_core.silence_penalty([c], 2.0))(jnp.asarray(COUNTS[0]))
    np.testing.assert_allclose(grad, [[-1.0, -1.0, 0.0]] * 2)  # -2 * deficit / B


def test_sparsity_penalty_formula_square_and_huber():
    # per-sample means 7/3 and 7/3; max 2: excess 1/3 each
    assert float(spyx_core.sparsity_penalty(COUNTS, 2.0)) == pytest.approx(1 / 9)
    huber = spyx_core.sparsity_penalty(COUNTS, 2.0, huber_delta=0.25)  # linear beyond delta
    assert float(huber) == pytest.approx(0.25 * (1 / 3 - 0.125))
    assert float(spyx_core.sparsity_penalty(COUNTS, 3.0)) == 0.0
    grad = jax.grad(lambda c: spyx_core.sparsity_penalty([c], 2.0))(jnp.asarray(COUNTS[0]))
    np.testing.assert_allclose(grad, np.full((2, 3), 2 * (1 / 3) / 3 / 2), rtol=1e-6)


def test_regulariser_gradient_reaches_the_weights_through_the_spikes():
    spec = shd_spec(channels=8, hidden=6, time_steps=10)
    weights = init_weights(spec, seed=0)
    apply = network(spec, weights, impl="layerwise", unroll=1, return_counts=True).apply
    x = jax.random.bernoulli(jax.random.key(0), 0.5, (10, 4, 8)).astype(jnp.float32)

    def penalty(params):
        return spyx_core.silence_penalty(apply(params, x)[1], 50.0)  # every neuron is "silent"

    g = jax.jit(jax.grad(penalty))(to_haiku(spec, weights))
    assert float(jnp.abs(g["layer_0"]["w"]).sum()) > 0


# --- the spec and the adapters ---------------------------------------------------------------------


@pytest.mark.parametrize("neuron", NEURON_TYPES)
def test_spec_round_trips_and_spyx_core_trains_every_neuron(neuron):
    spec = shd_spec(channels=8, hidden=6, time_steps=10, neuron=neuron)
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    weights = init_weights(spec, seed=0)
    params = to_haiku(spec, weights)
    assert set(from_haiku(params)) == set(weights)
    net = network(spec, weights, impl="layerwise", unroll=1)
    x = jnp.zeros((10, 3, 8), jnp.float32)
    created = jax.eval_shape(net.init, jax.random.key(0), x)  # what the network asks for
    assert jax.tree.map(lambda a: a.shape, created) == jax.tree.map(jnp.shape, params)
    grads = jax.eval_shape(jax.grad(lambda p: net.apply(p, x).sum()), params)
    assert jax.tree.map(lambda g: g.shape, grads) == jax.tree.map(jnp.shape, params)
    assert set(trained_names(spec, weights)) == set(weights)


def test_spec_initial_parameters_of_the_new_neurons():
    spec = shd_spec(channels=4, hidden=5, time_steps=8, neuron="ALIF")
    weights = init_weights(spec, seed=0)
    np.testing.assert_array_equal(weights["1.gamma"], np.full(5, 0.9, np.float32))
    recurrent = init_weights(shd_spec(channels=4, hidden=5, time_steps=8, neuron="RIF"), seed=0)
    assert recurrent["1.recurrent"].shape == (5, 5) and "1.beta" not in recurrent
    cuba = init_weights(shd_spec(channels=4, hidden=5, time_steps=8, neuron="CuBaLIF"), seed=0)
    assert {"1.alpha", "1.beta"} <= set(cuba)
    fixed = shd_spec(channels=4, hidden=5, time_steps=8, neuron="CuBaLIF", train_beta=False)
    assert not any(k.endswith((".alpha", ".beta")) for k in trained_names(fixed, cuba))


def test_spec_rejects_unknown_neurons_and_layers():
    with pytest.raises(ValueError, match="unknown neuron 'LSTM'"):
        shd_spec(neuron="LSTM")
    spec = shd_spec(channels=4, hidden=5, time_steps=8)
    with pytest.raises(ValueError, match="known layers"):
        ModelSpec(task="shd", layers=(spec.layers[0], object(), *spec.layers[2:]), time_steps=8)


SUPPORTED = {"snntorch": ("LIF", "IF", "CuBaLIF"), "norse": ("LIF", "IF")}
NEW_SUPPORTED = [(name, n) for name, ns in SUPPORTED.items() for n in ns if n != "LIF"]
UNSUPPORTED = [(name, n) for name in SUPPORTED for n in NEURON_TYPES if n not in SUPPORTED[name]]


@pytest.mark.parametrize(("name", "neuron"), NEW_SUPPORTED)
def test_torch_adapters_compute_the_new_neurons_exactly(name, neuron):
    spec = shd_spec(channels=8, hidden=6, time_steps=12, neuron=neuron)
    weights = init_weights(spec, seed=1)
    weights["0.weight"] *= 3  # make the hidden layers spike
    rng = np.random.default_rng(0)
    spikes = (rng.random((3, 12, 8)) < 0.4).astype(np.float32)
    labels = np.array([0, 5, 19])
    ref = frameworks.load("spyx_core")
    other = frameworks.load(name)
    np.testing.assert_allclose(
        other.readout(spec, weights, spikes), ref.readout(spec, weights, spikes), atol=1e-5
    )
    loss, g = other.loss_and_grads(spec, weights, spikes, labels)
    ref_loss, ref_g = ref.loss_and_grads(spec, weights, spikes, labels)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    for key, value in ref_g.items():
        np.testing.assert_allclose(g[key], value, atol=1e-4, err_msg=key)


@pytest.mark.parametrize(("name", "neuron"), UNSUPPORTED)
def test_adapters_refuse_what_they_cannot_compute_and_say_why(name, neuron):
    spec = shd_spec(channels=4, hidden=3, time_steps=4, neuron=neuron)
    with pytest.raises(frameworks.Unsupported, match=rf"{name} cannot run {neuron}: \w+"):
        frameworks.load(name).readout(spec, init_weights(spec, seed=0), np.zeros((1, 4, 4), np.float32))


def test_harness_records_an_unsupported_neuron_as_skipped(monkeypatch):
    from datasets_fixtures import synthetic_shd

    from harness import worker
    from harness.cell import Cell

    data = synthetic_shd(n_samples=8, time_steps=8, channels=4, seed=0)
    spec = shd_spec(channels=4, hidden=3, time_steps=8, neuron="ALIF")
    monkeypatch.setattr(worker, "load_data", lambda cell, split="train": data)
    monkeypatch.setattr(worker, "model_spec", lambda cell, data: spec)
    row = worker.run_cell(Cell(framework="snntorch", batch_size=4, n_samples=8, epochs=1, seed=0))
    assert row.status == "skipped"
    assert "snntorch cannot run ALIF" in row.reason
