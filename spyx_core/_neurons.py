"""Spiking neurons: pure step functions holding the maths, thin Haiku cores holding the parameters.

All neurons are discrete-time with unit step. With input current ``x[t]``, membrane ``v`` and spike
``s = spike_fn(v - theta)`` (Heaviside forward, surrogate backward):

* LIF: ``v[t] = beta * v[t-1] + x[t] - theta * s[t-1]``, ``s[t] = H(v[t] - theta)``. The reset uses the
  previous step's spike, recomputed from ``v[t-1]`` and detached from the gradient (as snnTorch's
  ``Leaky`` does by default). ``beta`` is clipped to ``[0, 1]`` on every call.
* IF: LIF with ``beta = 1``.
* LI (readout): ``v[t] = beta * v[t-1] + x[t]``; the output is ``v[t]``.
* CuBaLIF (current-based): a synaptic current filters the input and drives an LIF membrane::

      i[t] = alpha * i[t-1] + x[t]
      v[t] = beta * v[t-1] + i[t] - theta * s[t-1]

  (snnTorch's ``Synaptic``; Spyx 1.0's ``CuBaLIF`` with the reset subtracted once).
* ALIF (adaptive threshold, Bellec et al. 2018): each spike raises the neuron's threshold, which
  then relaxes back to ``theta``::

      th[t] = theta + adaptation * a[t]
      a[t]  = gamma * a[t-1] + (1 - gamma) * s[t-1]
      v[t]  = beta * v[t-1] + x[t] - th[t-1] * s[t-1],      s[t] = H(v[t] - th[t])

  The reset subtracts the threshold in force when the spike fired, detached as in LIF; the
  adaptation term keeps the previous spike's surrogate gradient (it is part of the dynamics to learn).
* Recurrent RLIF and RIF: ``spyx_core/_recurrent.py``.

Every decay (``alpha``, ``beta``, ``gamma``) is clipped to ``[0, 1]`` on every call (``clip_decay``:
its gradient is 1 on the closed interval, boundaries included, and 0 outside). ``s[t-1]`` is
never stored: it is recomputed from the previous state. A single-variable state is the membrane
``[B, *size]``; a two-variable one is a NamedTuple of such arrays. Every state starts at zero.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, NamedTuple

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from spyx_core._fused import membrane_sequence, spike_sequence
from spyx_core._surrogate import heaviside, superspike

SpikeFn = Callable[[jax.Array], jax.Array]
BetaInit = float | np.ndarray | None


@jax.custom_jvp
def clip_decay(decay: jax.Array) -> jax.Array:
    """``clip(decay, 0, 1)`` whose derivative is 1 on ``[0, 1]`` (boundaries included), 0 outside.

    The canonical model states the boundary gradient (``frameworks.spec``): ``jnp.clip`` splits it
    (0.5 at exactly 0 or 1), ``torch.clamp`` passes it whole (1), and a decay seeded or trained onto
    a boundary (beta = 0 after clipping, beta = 1 for a perfect integrator) must get the same
    gradient in every framework.
    """
    return jnp.clip(decay, 0.0, 1.0)


@clip_decay.defjvp
def _clip_decay_jvp(primals, tangents):
    (decay,), (tangent,) = primals, tangents
    inside = (decay >= 0.0) & (decay <= 1.0)
    return clip_decay(decay), jnp.where(inside, tangent, jnp.zeros_like(tangent))


def _decay(beta: jax.Array, v: jax.Array) -> jax.Array:
    """``beta`` clipped to ``[0, 1]`` (``clip_decay``) and broadcast to ``v``'s shape explicitly, so
    that a per-neuron ``beta`` ``[*size]`` meets ``v`` ``[B, *size]`` even under
    ``jax_numpy_rank_promotion="raise"``."""
    return jnp.broadcast_to(clip_decay(beta), v.shape)


def lif_step(
    x: jax.Array, v: jax.Array, *, beta: jax.Array, theta: float, spike_fn: SpikeFn
) -> tuple[jax.Array, jax.Array]:
    """One LIF step: returns ``(spikes[t], v[t])`` from ``x[t]`` and ``v[t-1]``."""
    reset = theta * jax.lax.stop_gradient(heaviside(v - theta))
    v = _decay(beta, v) * v + x - reset
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
    v = _decay(beta, v) * v + x
    return v, v


class CuBaLIFState(NamedTuple):
    """State of a CuBaLIF layer: membrane ``v`` and synaptic current ``i``, each ``[B, *size]``."""

    v: jax.Array
    i: jax.Array


class ALIFState(NamedTuple):
    """State of an ALIF layer: membrane ``v`` and threshold adaptation ``a``, each ``[B, *size]``."""

    v: jax.Array
    a: jax.Array


def cuba_lif_step(
    x: jax.Array,
    state: CuBaLIFState,
    *,
    alpha: jax.Array,
    beta: jax.Array,
    theta: float,
    spike_fn: SpikeFn,
) -> tuple[jax.Array, CuBaLIFState]:
    """One current-based LIF step (module docstring): returns ``(spikes[t], state[t])``."""
    reset = theta * jax.lax.stop_gradient(heaviside(state.v - theta))
    i = _decay(alpha, state.i) * state.i + x
    v = _decay(beta, state.v) * state.v + i - reset
    return spike_fn(v - theta), CuBaLIFState(v, i)


def alif_step(
    x: jax.Array,
    state: ALIFState,
    *,
    beta: jax.Array,
    gamma: jax.Array,
    theta: float,
    adaptation: float,
    spike_fn: SpikeFn,
) -> tuple[jax.Array, ALIFState]:
    """One adaptive-threshold LIF step (module docstring): returns ``(spikes[t], state[t])``."""
    threshold = theta + adaptation * state.a  # th[t-1]
    previous = spike_fn(state.v - threshold)  # s[t-1], with its surrogate gradient
    reset = jax.lax.stop_gradient(threshold * previous)
    g = _decay(gamma, state.a)
    a = g * state.a + (1.0 - g) * previous
    v = _decay(beta, state.v) * state.v + x - reset
    return spike_fn(v - (theta + adaptation * a)), ALIFState(v, a)


def _size(size: int | Sequence[int]) -> tuple[int, ...]:
    return (size,) if isinstance(size, int) else tuple(size)


class _Neuron(hk.RNNCore):
    """Shared plumbing: the state shape and how decays are obtained.

    ``spiking`` marks cores whose output is spikes: ``run_sequential`` counts those.
    """

    spiking: ClassVar[bool] = True

    def __init__(self, size: int | Sequence[int], name: str | None = None):
        super().__init__(name=name)
        self.size = _size(size)

    def initial_state(self, batch_size: int | None) -> jax.Array:
        shape = self.size if batch_size is None else (batch_size, *self.size)
        return jnp.zeros(shape, jnp.float32)

    def _beta(self, beta: BetaInit, trainable: bool, default: hk.initializers.Initializer):
        """A per-neuron ``beta``: a trainable parameter, or a constant when not trainable."""
        return self._decay_param("beta", beta, trainable, default)

    def _decay_param(
        self, name: str, value: BetaInit, trainable: bool, default: hk.initializers.Initializer
    ) -> jax.Array:
        """A per-neuron decay ``name``: a trainable parameter, or a constant when not trainable."""
        if value is not None and not trainable:
            return jnp.broadcast_to(jnp.asarray(value, jnp.float32), self.size)
        init = default if value is None else hk.initializers.Constant(value)
        return hk.get_parameter(name, self.size, jnp.float32, init=init)


class _Membrane:
    """Cores whose state is one membrane under the canonical update (LIF, IF, LI): all ``T`` steps
    as one operation with a hand-written backward (``_fused.py``), for ``run_sequential``'s
    ``"fused"`` implementation. A core supplies its decay; spiking ones also ``theta`` and
    ``spike_fn``."""

    spiking: ClassVar[bool]

    def _current_decay(self) -> jax.Array:
        raise NotImplementedError

    def membrane(self, x: jax.Array, v: jax.Array, unroll: int = 1) -> tuple[jax.Array, jax.Array]:
        """``(v [T, B, *size], v[T-1])`` for ``x [T, B, *size]`` from ``v``; spikes: ``fire``."""
        decay = clip_decay(self._current_decay())
        theta = self.theta if self.spiking else None  # no reset in the LI readout
        return membrane_sequence(x, v, beta=decay, theta=theta, unroll=unroll)

    def fire(self, v: jax.Array) -> jax.Array:
        """The spikes of membranes ``v`` (spiking cores)."""
        return self.spike_fn(v - self.theta)

    def spikes(self, x: jax.Array, v: jax.Array, unroll: int = 1) -> tuple[jax.Array, jax.Array]:
        """``(spikes [T, B, *size], v[T-1])`` for ``x [T, B, *size]`` from ``v`` (spiking cores), the
        surrogate applied inside the fused backward (``spike_sequence``)."""
        decay = clip_decay(self._current_decay())
        return spike_sequence(x, v, beta=decay, theta=self.theta, spike_fn=self.spike_fn, unroll=unroll)


class LIF(_Membrane, _Neuron):
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

    def _current_decay(self) -> jax.Array:
        default = hk.initializers.TruncatedNormal(stddev=0.25, mean=0.5)
        return self._beta(self.beta_init, self.trainable_beta, default)

    def __call__(self, x: jax.Array, v: jax.Array) -> tuple[jax.Array, jax.Array]:
        beta = self._current_decay()
        return lif_step(x, v, beta=beta, theta=self.theta, spike_fn=self.spike_fn)


class IF(_Membrane, _Neuron):
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

    def _current_decay(self) -> jax.Array:
        return jnp.ones(self.size, jnp.float32)  # no leak


class LI(_Membrane, _Neuron):
    """Leaky-integrator readout core; ``beta`` defaults to a trainable 0.8 per neuron."""

    spiking: ClassVar[bool] = False

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

    def _current_decay(self) -> jax.Array:
        return self._beta(self.beta_init, self.trainable_beta, hk.initializers.Constant(0.8))

    def __call__(self, x: jax.Array, v: jax.Array) -> tuple[jax.Array, jax.Array]:
        return li_step(x, v, beta=self._current_decay())


def _paper_decay() -> hk.initializers.Initializer:
    """TruncatedNormal(0.5, 0.25) at two standard deviations: LIF's ``beta`` in the Spyx paper."""
    return hk.initializers.TruncatedNormal(stddev=0.25, mean=0.5)


class CuBaLIF(_Neuron):
    """Current-based LIF core (module docstring); state ``CuBaLIFState``.

    Args:
        size: neurons per sample.
        alpha: initial synaptic decay; ``None`` draws TruncatedNormal(0.5, 0.25) per neuron.
        beta: initial membrane decay; ``None`` draws TruncatedNormal(0.5, 0.25) per neuron.
        trainable_decays: learn ``alpha`` and ``beta`` (otherwise given values are constants).
        theta: firing threshold.
        spike_fn: surrogate spike function; defaults to ``superspike()``.
    """

    def __init__(
        self,
        size: int | Sequence[int],
        *,
        alpha: BetaInit = None,
        beta: BetaInit = None,
        trainable_decays: bool = True,
        theta: float = 1.0,
        spike_fn: SpikeFn | None = None,
        name: str | None = None,
    ):
        super().__init__(size, name=name)
        self.alpha_init, self.beta_init, self.trainable = alpha, beta, trainable_decays
        self.theta = theta
        self.spike_fn = spike_fn or superspike()

    def initial_state(self, batch_size: int | None) -> CuBaLIFState:
        zeros = super().initial_state(batch_size)
        return CuBaLIFState(zeros, zeros)

    def __call__(self, x: jax.Array, state: CuBaLIFState) -> tuple[jax.Array, CuBaLIFState]:
        alpha = self._decay_param("alpha", self.alpha_init, self.trainable, _paper_decay())
        beta = self._decay_param("beta", self.beta_init, self.trainable, _paper_decay())
        return cuba_lif_step(x, state, alpha=alpha, beta=beta, theta=self.theta, spike_fn=self.spike_fn)


class ALIF(_Neuron):
    """Adaptive-threshold LIF core (module docstring); state ``ALIFState``.

    Args:
        size: neurons per sample.
        beta: initial membrane decay; ``None`` draws TruncatedNormal(0.5, 0.25) per neuron.
        gamma: initial adaptation decay; ``None`` sets 0.9 per neuron.
        trainable_decays: learn ``beta`` and ``gamma`` (otherwise given values are constants).
        theta: baseline threshold.
        adaptation: how far one spike raises the threshold (at ``a = 1``).
        spike_fn: surrogate spike function; defaults to ``superspike()``.
    """

    def __init__(
        self,
        size: int | Sequence[int],
        *,
        beta: BetaInit = None,
        gamma: BetaInit = None,
        trainable_decays: bool = True,
        theta: float = 1.0,
        adaptation: float = 1.0,
        spike_fn: SpikeFn | None = None,
        name: str | None = None,
    ):
        super().__init__(size, name=name)
        self.beta_init, self.gamma_init, self.trainable = beta, gamma, trainable_decays
        self.theta, self.adaptation = theta, adaptation
        self.spike_fn = spike_fn or superspike()

    def initial_state(self, batch_size: int | None) -> ALIFState:
        zeros = super().initial_state(batch_size)
        return ALIFState(zeros, zeros)

    def __call__(self, x: jax.Array, state: ALIFState) -> tuple[jax.Array, ALIFState]:
        beta = self._decay_param("beta", self.beta_init, self.trainable, _paper_decay())
        slow = hk.initializers.Constant(0.9)
        gamma = self._decay_param("gamma", self.gamma_init, self.trainable, slow)
        return alif_step(
            x,
            state,
            beta=beta,
            gamma=gamma,
            theta=self.theta,
            adaptation=self.adaptation,
            spike_fn=self.spike_fn,
        )
