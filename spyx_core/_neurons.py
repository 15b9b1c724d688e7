"""Spiking neurons: pure step functions holding the maths, thin Haiku cores holding the parameters.

All neurons are discrete-time with unit step. With input current ``x[t]``, membrane ``v`` and spike
``s = spike_fn(v - theta)`` (Heaviside forward, surrogate backward):

* LIF: ``v[t] = beta * v[t-1] + x[t] - theta * s[t-1]``, ``s[t] = H(v[t] - theta)``. The reset uses the
  previous step's spike, recomputed from ``v[t-1]`` and detached from the gradient (as snnTorch's
  ``Leaky`` does by default). ``beta`` is clipped to ``[0, 1]`` on every call.
* IF: LIF with ``beta = 1``.
* LI (readout): ``v[t] = beta * v[t-1] + x[t]``; the output is ``v[t]``.

States are the membrane alone, shaped ``[B, *size]``; every state starts at zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from spyx_core._surrogate import heaviside, superspike

SpikeFn = Callable[[jax.Array], jax.Array]
BetaInit = float | np.ndarray | None


def lif_step(
    x: jax.Array, v: jax.Array, *, beta: jax.Array, theta: float, spike_fn: SpikeFn
) -> tuple[jax.Array, jax.Array]:
    """One LIF step: returns ``(spikes[t], v[t])`` from ``x[t]`` and ``v[t-1]``."""
    reset = theta * jax.lax.stop_gradient(heaviside(v - theta))
    v = jnp.clip(beta, 0.0, 1.0) * v + x - reset
    return spike_fn(v - theta), v


def if_step(
    x: jax.Array, v: jax.Array, *, theta: float, spike_fn: SpikeFn
) -> tuple[jax.Array, jax.Array]:
    """One integrate-and-fire step: LIF without leak."""
    reset = theta * jax.lax.stop_gradient(heaviside(v - theta))
    v = v + x - reset
    return spike_fn(v - theta), v


def li_step(x: jax.Array, v: jax.Array, *, beta: jax.Array) -> tuple[jax.Array, jax.Array]:
    """One leaky-integrator step: returns ``(v[t], v[t])``."""
    v = jnp.clip(beta, 0.0, 1.0) * v + x
    return v, v


def _size(size: int | Sequence[int]) -> tuple[int, ...]:
    return (size,) if isinstance(size, int) else tuple(size)


class _Neuron(hk.RNNCore):
    """Shared plumbing: the state shape and how ``beta`` is obtained."""

    def __init__(self, size: int | Sequence[int], name: str | None = None):
        super().__init__(name=name)
        self.size = _size(size)

    def initial_state(self, batch_size: int | None) -> jax.Array:
        shape = self.size if batch_size is None else (batch_size, *self.size)
        return jnp.zeros(shape, jnp.float32)

    def _beta(self, beta: BetaInit, trainable: bool, default: hk.initializers.Initializer):
        """A per-neuron ``beta``: a trainable parameter, or a constant when not trainable."""
        if beta is not None and not trainable:
            return jnp.broadcast_to(jnp.asarray(beta, jnp.float32), self.size)
        init = default if beta is None else hk.initializers.Constant(beta)
        return hk.get_parameter("beta", self.size, jnp.float32, init=init)


class LIF(_Neuron):
    """Leaky integrate-and-fire core with subtractive, detached reset (see module docstring).

    Args:
        size: neurons per sample (an int, or a shape such as ``(C, H, W)``).
        beta: initial decay. ``None`` draws a per-neuron value from TruncatedNormal(0.5, 0.25)
            truncated at two standard deviations, as in the Spyx paper; a float or array sets it.
        trainable_beta: learn ``beta`` as the parameter ``beta`` (otherwise it is a constant).
        theta: firing threshold.
        spike_fn: surrogate spike function; defaults to ``superspike()``.
    """

    def __init__(
        self,
        size: int | Sequence[int],
        *,
        beta: BetaInit = None,
        trainable_beta: bool = True,
        theta: float = 1.0,
        spike_fn: SpikeFn | None = None,
        name: str | None = None,
    ):
        super().__init__(size, name=name)
        self.beta_init, self.trainable_beta = beta, trainable_beta
        self.theta = theta
        self.spike_fn = spike_fn or superspike()

    def __call__(self, x: jax.Array, v: jax.Array) -> tuple[jax.Array, jax.Array]:
        default = hk.initializers.TruncatedNormal(stddev=0.25, mean=0.5)
        beta = self._beta(self.beta_init, self.trainable_beta, default)
        spikes, v = lif_step(x, v, beta=beta, theta=self.theta, spike_fn=self.spike_fn)
        return spikes, v


class IF(_Neuron):
    """Integrate-and-fire core (no leak, no parameters)."""

    def __init__(
        self,
        size: int | Sequence[int],
        *,
        theta: float = 1.0,
        spike_fn: SpikeFn | None = None,
        name: str | None = None,
    ):
        super().__init__(size, name=name)
        self.theta = theta
        self.spike_fn = spike_fn or superspike()

    def __call__(self, x: jax.Array, v: jax.Array) -> tuple[jax.Array, jax.Array]:
        return if_step(x, v, theta=self.theta, spike_fn=self.spike_fn)


class LI(_Neuron):
    """Leaky-integrator readout core; ``beta`` defaults to a trainable 0.8 per neuron."""

    def __init__(
        self,
        size: int | Sequence[int],
        *,
        beta: BetaInit = None,
        trainable_beta: bool = True,
        name: str | None = None,
    ):
        super().__init__(size, name=name)
        self.beta_init, self.trainable_beta = beta, trainable_beta

    def __call__(self, x: jax.Array, v: jax.Array) -> tuple[jax.Array, jax.Array]:
        beta = self._beta(self.beta_init, self.trainable_beta, hk.initializers.Constant(0.8))
        return li_step(x, v, beta=beta)
