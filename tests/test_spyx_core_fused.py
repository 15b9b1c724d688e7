"""The fused membrane operation and the rematerialised pieces compute the canonical function.

``membrane_sequence`` must give bit-identical membranes to stepping ``lif_step`` / ``li_step`` /
``if_step`` and the same gradients as differentiating those steps through ``lax.scan``, including
the gradients of the initial and final state that chunking relies on. Every ``run_sequential``
implementation, with and without ``remat_chunk``, must agree with ``scan`` on outputs, counts and
gradients; and the memory plans must keep their promises (fused <= scan, remat < fused).
"""

from __future__ import annotations

import re

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spyx_core
from frameworks.adapters.spyx_core_adapter import network, to_haiku
from frameworks.spec import init_weights, shd_spec
from spyx_core._fused import membrane_sequence, spike_sequence

SPIKE = spyx_core.superspike(5.0)  # a wide surrogate: every step contributes a gradient
THETA = 1.0


def _stepped(x, v0, beta, theta):
    """Reference: the step functions through ``lax.scan``; returns ``(v [T, ...], v[T-1])``."""

    def step(v, x_t):
        if theta is None:
            _, v = spyx_core.li_step(x_t, v, beta=beta)
        else:
            _, v = spyx_core.lif_step(x_t, v, beta=beta, theta=theta, spike_fn=SPIKE)
        return v, v

    last, v = jax.lax.scan(step, v0, x)
    return v, last


def _inputs(seed: int = 0):
    keys = jax.random.split(jax.random.key(seed), 5)
    x = 1.5 * jax.random.uniform(keys[0], (30, 4, 6))
    v0 = jax.random.uniform(keys[1], (4, 6))
    beta = jax.random.uniform(keys[2], (6,))
    weights = jax.random.normal(keys[3], (30, 4, 6)), jax.random.normal(keys[4], (4, 6))
    return x, v0, beta, weights


def _objective(membranes, theta, weights):
    """A loss that reaches the membranes through the spikes (or the LI output) and the last state."""

    def objective(x, v0, beta):
        v, last = membranes(x, v0, beta)
        out = v if theta is None else SPIKE(v - theta)
        return jnp.sum(weights[0] * out) + jnp.sum(weights[1] * last)

    return objective


@pytest.mark.parametrize("theta", [THETA, None], ids=["LIF", "LI"])
def test_membrane_sequence_equals_stepping_and_its_gradients(theta):
    x, v0, beta, weights = _inputs()

    def fused(x, v0, beta):
        return membrane_sequence(x, v0, beta=beta, theta=theta)

    def stepped(x, v0, beta):
        return _stepped(x, v0, beta, theta)

    v_fused, last_fused = jax.jit(fused)(x, v0, beta)
    v_stepped, last_stepped = jax.jit(stepped)(x, v0, beta)
    np.testing.assert_array_equal(v_fused, v_stepped)  # same operations, same order
    np.testing.assert_array_equal(last_fused, last_stepped)
    if theta is not None:
        spikes = np.asarray(v_fused > theta)
        assert 0.1 < spikes.mean() < 0.9 and spikes[:-1].sum() > 10  # resets happen

    grads = [
        jax.jit(jax.grad(_objective(f, theta, weights), argnums=(0, 1, 2)))(x, v0, beta)
        for f in (fused, stepped)
    ]
    for name, got, want in zip(("x", "v0", "beta"), *grads, strict=True):
        assert float(jnp.abs(want).max()) > 0, name
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=name)


def test_if_membrane_is_lif_without_leak():
    x, v0, _, _ = _inputs(1)
    v, _ = membrane_sequence(x, v0, beta=jnp.ones(6), theta=THETA)
    _, expected = jax.lax.scan(
        lambda v, x_t: (spyx_core.if_step(x_t, v, theta=THETA, spike_fn=SPIKE)[1],) * 2, v0, x
    )
    np.testing.assert_array_equal(v, expected)


def _spiking_objective(weights):
    def objective(x, v0, beta):
        spikes, last = spike_sequence(x, v0, beta=beta, theta=THETA, spike_fn=SPIKE)
        return jnp.sum(weights[0] * spikes) + jnp.sum(weights[1] * last)

    return objective


def test_spike_sequence_is_the_membranes_spikes_with_their_gradients():
    x, v0, beta, weights = _inputs(2)
    spikes, last = jax.jit(lambda x: spike_sequence(x, v0, beta=beta, theta=THETA, spike_fn=SPIKE))(x)
    v, last_v = jax.jit(lambda x: membrane_sequence(x, v0, beta=beta, theta=THETA))(x)
    np.testing.assert_array_equal(spikes, np.asarray(v > THETA, np.float32))
    np.testing.assert_array_equal(last, last_v)

    def fused(x, v0, beta):
        return membrane_sequence(x, v0, beta=beta, theta=THETA)

    argnums = (0, 1, 2)
    got = jax.jit(jax.grad(_spiking_objective(weights), argnums=argnums))(x, v0, beta)
    want = jax.jit(jax.grad(_objective(fused, THETA, weights), argnums=argnums))(x, v0, beta)
    for name, a, b in zip(("x", "v0", "beta"), got, want, strict=True):
        assert float(jnp.abs(b).max()) > 0, name
        # one rounding fewer where XLA contracts the surrogate's product with the add (docstring)
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, err_msg=name)


def test_spike_sequence_backward_reads_and_writes_fewer_bytes():
    """The surrogate inside the reverse loop: no separate pass over ``[T, B, size]`` before it."""
    x, v0, beta, weights = _inputs(3)

    def fused(x, v0, beta):
        return membrane_sequence(x, v0, beta=beta, theta=THETA)

    def bytes_accessed(objective) -> float:
        compiled = jax.jit(jax.grad(objective)).lower(x, v0, beta).compile()
        cost = compiled.cost_analysis()
        return float((cost[0] if isinstance(cost, list) else cost)["bytes accessed"])

    inside = bytes_accessed(_spiking_objective(weights))
    apart = bytes_accessed(_objective(fused, THETA, weights))
    assert inside < apart, (inside, apart)


def _loop_body_copies(compiled_text: str, shape: tuple[int, ...]) -> list[str]:
    """The ``copy`` instructions of ``f32[shape]`` inside the while-loop bodies of compiled HLO."""
    bodies = set(re.findall(r"body=(%[\w.\-]+)", compiled_text))
    blocks = re.split(r"\n(?=%|ENTRY)", compiled_text)
    copy = re.compile(rf"= f32\[{','.join(map(str, shape))}\]\S* copy\(")
    body_lines = [block.splitlines() for block in blocks if block.split(" ", 1)[0] in bodies]
    return [line.strip() for lines in body_lines for line in lines if copy.search(line)]


@pytest.mark.parametrize("trained", [True, False], ids=["trained decay", "fixed decay"])
@pytest.mark.parametrize("operation", ["membrane", "spikes"])
def test_the_loops_update_their_buffers_in_place(operation, trained):
    """No step of the forward or the reverse loop copies the whole ``[T, B, size]`` buffer it
    updates: such a copy makes the loop quadratic in ``T``. The reverse loop did once the decay
    needed no gradient (``train_beta`` off), when its carry held ``decay * dv[t]``
    (``spyx_core._fused._backward``)."""
    x, v0, beta, weights = _inputs(4)

    def run(x, beta):
        if operation == "membrane":
            return membrane_sequence(x, v0, beta=beta, theta=THETA)[0]
        return spike_sequence(x, v0, beta=beta, theta=THETA, spike_fn=SPIKE)[0]

    def gradient(x, beta):
        if trained:
            return jax.vjp(run, x, beta)[1](weights[0])
        return jax.vjp(lambda x: run(x, beta), x)[1](weights[0])  # beta a constant

    for program in (run, gradient):  # the forward loop on its own, then the backward's
        text = jax.jit(program).lower(x, beta).compile().as_text()
        assert "while" in text  # the loops are there to look into
        assert _loop_body_copies(text, x.shape) == [], program.__name__


def test_the_loop_copy_finder_finds_a_copy_inside_a_loop():
    """The check above can fail: a loop body that keeps its buffer's old value beside the update
    needs a whole copy of it, and the finder sees that copy."""
    x = jnp.ones((30, 4, 6))

    def keeps_the_old_buffer(x):
        def step(t, carry):
            buffer, total = carry
            new = jax.lax.dynamic_update_index_in_dim(buffer, buffer[t] * 2.0, t, 0)
            return new, total + buffer.sum() + new[0, 0, 0]  # reads the old buffer after the write

        return jax.lax.fori_loop(0, x.shape[0], step, (x, 0.0))

    text = jax.jit(keeps_the_old_buffer).lower(x).compile().as_text()
    assert _loop_body_copies(text, x.shape)


# --- every implementation, with and without rematerialised pieces, agrees with scan --------------


def _network(impl: str, remat_chunk: int | None):
    def forward(x):
        layers = [
            hk.Linear(10, with_bias=False),
            spyx_core.LIF(10, spike_fn=SPIKE),
            hk.Linear(8, with_bias=False),
            spyx_core.IF(8, spike_fn=SPIKE),
            hk.Linear(5, with_bias=False),
            spyx_core.CuBaLIF(5, spike_fn=SPIKE),  # no fused form: runs as in layerwise
            hk.Linear(3, with_bias=False),
            spyx_core.LI(3),
        ]
        options = {"impl": impl, "remat_chunk": remat_chunk, "return_counts": True}
        return spyx_core.run_sequential(layers, x, **options)

    return hk.without_apply_rng(hk.transform(forward))


RUNS = [(impl, None) for impl in spyx_core.IMPLEMENTATIONS] + [
    ("fused", 7),  # two whole pieces of T = 20 and a shorter last one: both paths
]  # layerwise and scan take the same remat_chunk path (spyx_core._sequential)


def test_every_implementation_and_remat_chunk_agrees_with_scan():
    x = (jax.random.uniform(jax.random.key(1), (20, 3, 7)) < 0.5).astype(jnp.float32)
    params = _network("scan", None).init(jax.random.key(0), x)
    params = jax.tree.map(lambda p: 2.5 * p, params)  # strong enough that every layer spikes

    def run(impl, chunk):
        apply = _network(impl, chunk).apply

        def loss(p):
            out, counts = apply(p, x)
            return jnp.sum(out**2) + sum(jnp.sum(c) for c in counts), (out, counts)

        return jax.jit(jax.value_and_grad(loss, has_aux=True))(params)

    (_, (out, counts)), grads = run("scan", None)
    assert [float(c.mean()) > 0.2 for c in counts] == [True, True, True]
    for impl, chunk in RUNS:
        label = f"{impl} remat_chunk={chunk}"
        (_, (other_out, other_counts)), other_grads = run(impl, chunk)
        np.testing.assert_allclose(other_out, out, rtol=1e-5, atol=1e-5, err_msg=label)
        for a, b in zip(other_counts, counts, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=label)
        jax.tree.map(
            lambda a, b, label=label: np.testing.assert_allclose(
                a, b, rtol=1e-4, atol=1e-5, err_msg=label
            ),
            other_grads,
            grads,
        )


def test_remat_chunk_must_be_positive():
    net = _network("fused", 0)
    with pytest.raises(ValueError, match="remat_chunk must be positive"):
        net.init(jax.random.key(0), jnp.zeros((4, 1, 7)))


# --- memory: the promises of the fused and rematerialised forms ----------------------------------


def _planned_temp_bytes(impl: str, remat_chunk: int | None) -> int:
    """XLA's planned temporary memory of one loss-and-gradient step on the SHD network."""
    spec = shd_spec(channels=32, hidden=64, time_steps=128)
    weights = init_weights(spec, seed=0)
    apply = network(spec, weights, impl=impl, unroll=1, remat_chunk=remat_chunk).apply
    x = jnp.zeros((spec.time_steps, 16, 32), jnp.float32)
    labels = jnp.zeros((16,), jnp.int32)

    def loss(params):
        return spyx_core.integral_crossentropy(apply(params, x), labels)

    compiled = jax.jit(jax.grad(loss)).lower(to_haiku(spec, weights)).compile()
    return compiled.memory_analysis().temp_size_in_bytes


def test_fused_plans_no_more_memory_than_scan_and_remat_less():
    scan, fused = _planned_temp_bytes("scan", None), _planned_temp_bytes("fused", None)
    remat = _planned_temp_bytes("fused", 16)
    assert fused <= scan, (fused, scan)
    assert remat < 0.6 * fused, (remat, fused)
