"""A neuron layer's membrane over a whole sequence as one operation with a hand-written backward.

``membrane_sequence`` computes the membranes ``v[0..T-1]`` that stepping ``lif_step`` /
``if_step`` / ``li_step`` through time computes (same operations in the same order, so the same
float32 values), as one differentiable operation (``jax.custom_vjp``) on ``[T, B, *size]``:

* Forward: one loop of the elementwise update ``v = beta * v + x - theta * H(v - theta)``.
* Backward: the reset is detached, so the gradient obeys a *linear* recurrence
  ``dv[t] = g[t] + beta * dv[t+1]`` (``g[t]``: the gradient reaching ``v[t]`` from outside). That
  is one reverse loop of a multiply-add, which also sums the decay's gradient
  ``sum_t dv[t] * v[t-1]`` in its carry; the input gradient is ``dv`` itself.

Both loops write each step's result over their input in place (``fori_loop`` with a dynamic
update), so neither allocates a second ``[T, B, *size]`` array, as ``lax.scan``'s outputs would.

The only thing kept for the backward is ``v``, which is the output anyway. Spikes are not part of
the operation: ``run_sequential(impl="fused")`` computes them from ``v`` in a rematerialised
region with the next layer's projection, so neither the spikes nor the surrogate's input are
stored; the backward recomputes them from ``v`` (cheap, elementwise).

Why: differentiating the step function through ``lax.scan`` stores several ``[B, *size]`` values
per step (the previous membrane, the spikes, the surrogate's input) and runs the generic
transposed step; here one float32 membrane per neuron and step is stored.

``spike_sequence`` is the same operation for a spiking layer that returns the spikes themselves:
its backward applies the surrogate derivative inside the reverse loop, so that neither the spikes'
gradient times the surrogate nor a separate spike pass in the backward is a ``[T, B, *size]``
array of its own (``run_sequential(impl="fused_spikes")``).

The operation takes the state before the first step and returns the state after the last, with
gradients for both, so a sequence can be cut into pieces. A Pallas GPU kernel could replace the
two loops; it is not written because no GPU was available to test it, and these loops are the
reference any such kernel would be checked against.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import jax
import jax.numpy as jnp

from spyx_core._surrogate import heaviside


def _forward(x, v0, decay, theta, unroll):
    """The membranes ``v[0..T-1]`` (``theta=None``: no reset, the LI readout), each ``v[t]``
    written over ``x[t]``."""

    def step(t, carry):
        buffer, v = carry
        leaked = decay * v + buffer[t]  # lif_step's order: decay * v + x - reset
        v = leaked if theta is None else leaked - theta * heaviside(v - theta)
        return jax.lax.dynamic_update_index_in_dim(buffer, v, t, 0), v

    v, _ = jax.lax.fori_loop(0, x.shape[0], step, (x, v0), unroll=unroll)
    return v


def _backward(decay, g, g_last, v, v0, unroll, local=None):
    """``(dx, dv0, d_decay)`` from the gradients ``g [T, ...]`` of ``v`` and ``g_last`` of ``v[T-1]``.

    A reverse loop whose carry holds ``dv[t+1]`` and the running sum of ``dv[t+1] * v[t]``: the
    decay gradient of step ``t+1``. What reaches ``v[t]`` from later is ``decay * dv[t+1]``, or
    ``g_last`` at ``t = T-1``. Each ``dv[t]`` overwrites ``g[t]`` in place. ``local(v[t], g[t])``,
    when given, turns ``g[t]`` into the gradient reaching ``v[t]`` inside the loop (the spikes'
    surrogate: ``spike_sequence``), so that no separate pass over ``[T, B, ...]`` computes it.

    Why the carry is ``dv[t+1]`` itself, ``decay * dv[t+1]`` formed in the step that adds it: then
    ``dv[t]`` is one value that both the in-place write and the carry consume, the forward loop's
    shape. Carrying ``decay * dv[t]`` instead left XLA's CPU backend, once the decay needs no
    gradient (``train_beta`` off: nothing else reads ``dv[t+1]``), computing ``dv[t]`` twice, each
    copy reading ``g[t]``; a buffer read beside its in-place update is copied whole, every step, so
    the loop took time quadratic in ``T`` (about 1.6 s instead of 0.02 s at T=256, B=256, 128
    neurons). ``g_last`` is selected inside the loop: handling step ``T-1`` apart, before or after
    it, made XLA copy the whole buffer once more per call.
    """
    last = g.shape[0] - 1

    def step(i, carry):
        buffer, dv_next, d_decay = carry
        t = last - i
        g_t = buffer[t] if local is None else local(v[t], buffer[t])
        from_later = jnp.where(i == 0, g_last, decay * dv_next)  # g_last reaches v[T-1] directly
        dv_t = g_t + from_later
        d_decay = d_decay + dv_next * v[t]
        return jax.lax.dynamic_update_index_in_dim(buffer, dv_t, t, 0), dv_t, d_decay

    zeros = jnp.zeros_like(v0)
    dv, dv_first, d_decay = jax.lax.fori_loop(0, g.shape[0], step, (g, zeros, zeros), unroll=unroll)
    d_decay = (d_decay + dv_first * v0).sum(axis=0)  # step 0's previous membrane is v0
    return dv, decay * dv_first, d_decay


def _membrane_fwd(x, v0, beta, theta, unroll):
    v = _forward(x, v0, jnp.broadcast_to(beta, v0.shape), theta, unroll)
    return (v, v[-1]), (v, v0, beta)  # the residual is the output itself


@partial(jax.custom_vjp, nondiff_argnums=(3, 4))
def _membrane(x, v0, beta, theta, unroll):
    return _membrane_fwd(x, v0, beta, theta, unroll)[0]


def _membrane_bwd(theta, unroll, residuals, cotangents):
    v, v0, beta = residuals
    g, g_last = cotangents
    return _backward(jnp.broadcast_to(beta, v0.shape), g, g_last, v, v0, unroll)


_membrane.defvjp(_membrane_fwd, _membrane_bwd)


def membrane_sequence(
    x: jax.Array, v0: jax.Array, *, beta: jax.Array, theta: float | None, unroll: int = 1
) -> tuple[jax.Array, jax.Array]:
    """Membranes over time: ``(v [T, B, *size], v[T-1])`` from ``x [T, B, *size]`` and ``v0``.

    Args:
        x: input currents, time-major.
        v0: membrane before the first step, ``[B, *size]``.
        beta: decay ``[*size]``, already clipped to ``[0, 1]`` (the caller's autodiff handles the
            clip); ones for IF.
        theta: threshold of the detached subtractive reset; ``None`` for the LI readout (no reset).
        unroll: unroll factor of both loops (1 keeps the in-place update; see ``run_sequential``).
    """
    return _membrane(x, v0, beta, theta, unroll)


def _fire_fwd(x, v0, beta, theta, spike_fn, unroll):
    (v, last), residuals = _membrane_fwd(x, v0, beta, theta, unroll)
    return (spike_fn(v - theta), last), residuals


@partial(jax.custom_vjp, nondiff_argnums=(3, 4, 5))
def _fire(x, v0, beta, theta, spike_fn, unroll):
    return _fire_fwd(x, v0, beta, theta, spike_fn, unroll)[0]


def _fire_bwd(theta, spike_fn, unroll, residuals, cotangents):
    v, v0, beta = residuals
    g_spikes, g_last = cotangents

    def surrogate(v_t, g_t):
        # the gradient autodiff takes through ``spike_fn(v - theta)``: its JVP at ``v_t``, linear in g_t
        return jax.jvp(spike_fn, (v_t - theta,), (g_t,))[1]

    decay = jnp.broadcast_to(beta, v0.shape)
    return _backward(decay, g_spikes, g_last, v, v0, unroll, local=surrogate)


_fire.defvjp(_fire_fwd, _fire_bwd)


def spike_sequence(
    x: jax.Array,
    v0: jax.Array,
    *,
    beta: jax.Array,
    theta: float,
    spike_fn: Callable[[jax.Array], jax.Array],
    unroll: int = 1,
) -> tuple[jax.Array, jax.Array]:
    """Spikes over time: ``(spike_fn(v - theta) [T, B, *size], v[T-1])`` from ``x`` and ``v0``.

    ``membrane_sequence`` followed by the spike function, as one operation: the backward applies
    the surrogate derivative to the spikes' gradient inside its reverse loop, step by step, instead
    of in a separate pass over ``[T, B, *size]`` before it. The residual is still only the
    membranes ``v``; the spikes are the same values. The gradients are the same operations on the
    same values, except that XLA's CPU backend may contract the surrogate's product and the
    recurrence's add, now in one loop body, into one fused multiply-add (rounded once instead of
    twice): they match ``membrane_sequence``'s to float32 rounding, not bit for bit.

    Args:
        x, v0, beta, unroll: as in ``membrane_sequence``.
        theta: firing threshold (and the detached reset's size).
        spike_fn: the surrogate spike function (Heaviside forward, ``jax.custom_jvp`` backward).
    """
    return _fire(x, v0, beta, theta, spike_fn, unroll)
