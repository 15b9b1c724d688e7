"""Recurrent spiking neurons: each layer feeds its own previous spikes back through ``W_rec`` [H, H].

Conventions as in ``_neurons.py`` (unit step, strict Heaviside ``H``, detached subtractive reset)::

    RLIF   v[t] = beta * v[t-1] + x[t] + s[t-1] @ W_rec - theta * s[t-1],   s[t] = H(v[t] - theta)
    RIF    RLIF with beta = 1

``s[t-1]`` is recomputed from ``v[t-1]``. The recurrent term keeps its surrogate gradient (as in
snnTorch's ``RLeaky``, where the fed-back spike is not detached); the reset term is detached. The
canonical layout is ``s @ W_rec``: row ``j`` of ``W_rec`` holds neuron ``j``'s outgoing weights.
No bias. The state is the membrane ``[B, H]``; recurrent layers are one-dimensional.
"""

from __future__ import annotations

import math

import haiku as hk
import jax
import jax.numpy as jnp

from spyx_core._neurons import BetaInit, SpikeFn, _decay, _Neuron
from spyx_core._surrogate import heaviside, superspike


def rlif_step(
    x: jax.Array, v: jax.Array, *, w_rec: jax.Array, beta: jax.Array, theta: float, spike_fn: SpikeFn
) -> tuple[jax.Array, jax.Array]:
    """One recurrent LIF step (module docstring): returns ``(spikes[t], v[t])``."""
    previous = spike_fn(v - theta)  # s[t-1], with its surrogate gradient for the feedback
    reset = theta * jax.lax.stop_gradient(heaviside(v - theta))
    v = _decay(beta, v) * v + x + previous @ w_rec - reset
    return spike_fn(v - theta), v


def rif_step(
    x: jax.Array, v: jax.Array, *, w_rec: jax.Array, theta: float, spike_fn: SpikeFn
) -> tuple[jax.Array, jax.Array]:
    """One recurrent integrate-and-fire step: ``rlif_step`` without leak."""
    previous = spike_fn(v - theta)
    reset = theta * jax.lax.stop_gradient(heaviside(v - theta))
    v = v + x + previous @ w_rec - reset
    return spike_fn(v - theta), v


class _Recurrent(_Neuron):
    """A one-dimensional layer with a trainable recurrent weight ``w_rec`` [H, H]."""

    def __init__(self, size: int, *, theta: float, spike_fn: SpikeFn | None, name: str | None):
        if not isinstance(size, int):
            raise ValueError(f"a recurrent layer is one-dimensional; got size {size!r}")
        super().__init__(size, name=name)
        self.theta = theta
        self.spike_fn = spike_fn or superspike()

    def _w_rec(self) -> jax.Array:
        """``W_rec`` [H, H], initialised TruncatedNormal(0, 1 / sqrt(H)) like a Linear layer."""
        (h,) = self.size
        init = hk.initializers.TruncatedNormal(stddev=1.0 / math.sqrt(h))
        return hk.get_parameter("w_rec", (h, h), jnp.float32, init=init)


class RLIF(_Recurrent):
    """Recurrent LIF core (module docstring).

    Args:
        size: neurons ``H``.
        beta: initial decay; ``None`` draws TruncatedNormal(0.5, 0.25) per neuron.
        trainable_beta: learn ``beta`` (otherwise a given value is a constant).
        theta: firing threshold.
        spike_fn: surrogate spike function; defaults to ``superspike()``.
    """

    def __init__(
        self,
        size: int,
        *,
        beta: BetaInit = None,
        trainable_beta: bool = True,
        theta: float = 1.0,
        spike_fn: SpikeFn | None = None,
        name: str | None = None,
    ):
        super().__init__(size, theta=theta, spike_fn=spike_fn, name=name)
        self.beta_init, self.trainable_beta = beta, trainable_beta

    def __call__(self, x: jax.Array, v: jax.Array) -> tuple[jax.Array, jax.Array]:
        default = hk.initializers.TruncatedNormal(stddev=0.25, mean=0.5)
        beta = self._beta(self.beta_init, self.trainable_beta, default)
        return rlif_step(x, v, w_rec=self._w_rec(), beta=beta, theta=self.theta, spike_fn=self.spike_fn)


class RIF(_Recurrent):
    """Recurrent integrate-and-fire core (module docstring); its only parameter is ``w_rec``."""

    def __init__(
        self,
        size: int,
        *,
        theta: float = 1.0,
        spike_fn: SpikeFn | None = None,
        name: str | None = None,
    ):
        super().__init__(size, theta=theta, spike_fn=spike_fn, name=name)

    def __call__(self, x: jax.Array, v: jax.Array) -> tuple[jax.Array, jax.Array]:
        return rif_step(x, v, w_rec=self._w_rec(), theta=self.theta, spike_fn=self.spike_fn)
