"""Surrogate gradients: a Heaviside spike in the forward pass, a smooth derivative in the backward.

Each surrogate is written once, as its derivative ``d spike / d x`` at ``x = v - theta``, in terms of
an array namespace ``xp`` (``jax.numpy`` here; ``torch`` in the torch adapters), so every framework
in spikebench back-propagates through exactly the same function. Definitions follow Spyx 0.1.x:

====================  =======  =============================================
name                  slope k  derivative
====================  =======  =============================================
``arctan``            2        1 / (pi * (1 + (k pi x)^2))
``superspike``        25       1 / (1 + k |x|)^2
``fast_sigmoid``      25       same function as superspike (snnTorch's name)
``tanh``              1        1 - tanh(k x)^2   (= 4 / (e^{-kx} + e^{kx})^2)
``boxcar``            2        0.5 where |x| < 1 / k else 0 (width 2 / k)
``triangular``        2        max(0, 1 - |k x|)
====================  =======  =============================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

Derivative = Callable[[Any, float, Any], Any]


def _arctan(x: Any, k: float, xp: Any) -> Any:
    return 1.0 / (xp.pi * (1.0 + (k * xp.pi * x) ** 2))


def _superspike(x: Any, k: float, xp: Any) -> Any:
    return 1.0 / (1.0 + k * xp.abs(x)) ** 2


def _tanh(x: Any, k: float, xp: Any) -> Any:
    return 1.0 / xp.cosh(k * x) ** 2  # not 1 - tanh^2: that cancels to 0 in float32


def _boxcar(x: Any, k: float, xp: Any) -> Any:
    return xp.where(xp.abs(x) < 1.0 / k, 0.5, 0.0) + 0.0 * x


def _triangular(x: Any, k: float, xp: Any) -> Any:
    return xp.clip(1.0 - xp.abs(k * x), min=0.0)


SURROGATE_DERIVATIVES: dict[str, Derivative] = {
    "arctan": _arctan,
    "superspike": _superspike,
    "fast_sigmoid": _superspike,
    "tanh": _tanh,
    "boxcar": _boxcar,
    "triangular": _triangular,
}
"""Surrogate name -> ``derivative(x, k, xp)``: the one definition every framework uses."""

DEFAULT_SLOPES: dict[str, float] = {
    "arctan": 2.0,
    "superspike": 25.0,
    "fast_sigmoid": 25.0,
    "tanh": 1.0,
    "boxcar": 2.0,
    "triangular": 2.0,
}


def surrogate_derivative(name: str) -> Derivative:
    """Returns the derivative ``f(x, k, xp)`` of the named surrogate.

    Raises:
        ValueError: the name is not a known surrogate (the message lists the known ones).
    """
    try:
        return SURROGATE_DERIVATIVES[name]
    except KeyError:
        known = ", ".join(sorted(SURROGATE_DERIVATIVES))
        raise ValueError(f"unknown surrogate {name!r}; choose one of: {known}") from None


def heaviside(x: jax.Array) -> jax.Array:
    """Strict Heaviside step, ``1`` where ``x > 0``, in the dtype of ``x`` (no gradient)."""
    return (x > 0).astype(x.dtype)


def surrogate(name: str = "arctan", k: float | None = None) -> Callable[[jax.Array], jax.Array]:
    """Builds a spike function: Heaviside forward, the named surrogate derivative backward.

    Args:
        name: one of ``SURROGATE_DERIVATIVES``.
        k: slope; ``None`` takes the surrogate's default (``DEFAULT_SLOPES``).

    Returns:
        ``spike(x)`` with ``x = v - theta``, differentiable through ``jax.custom_jvp``.
    """
    derivative = surrogate_derivative(name)
    slope = DEFAULT_SLOPES[name] if k is None else float(k)

    @jax.custom_jvp
    def spike(x: jax.Array) -> jax.Array:
        return heaviside(x)

    @spike.defjvp
    def _spike_jvp(primals: tuple, tangents: tuple) -> tuple:
        (x,), (x_dot,) = primals, tangents
        return heaviside(x), derivative(x, slope, jnp).astype(x.dtype) * x_dot

    return spike


def arctan(k: float = 2.0) -> Callable[[jax.Array], jax.Array]:
    """Arctan surrogate (Spyx's ``axn.arctan``), the paper's SHD choice."""
    return surrogate("arctan", k)


def superspike(k: float = 25.0) -> Callable[[jax.Array], jax.Array]:
    """SuperSpike surrogate (Spyx's default), identical to snnTorch's fast sigmoid."""
    return surrogate("superspike", k)


def fast_sigmoid(k: float = 25.0) -> Callable[[jax.Array], jax.Array]:
    """Fast-sigmoid surrogate: snnTorch's name for the SuperSpike derivative."""
    return surrogate("fast_sigmoid", k)


def boxcar(k: float = 2.0) -> Callable[[jax.Array], jax.Array]:
    """Boxcar surrogate: 0.5 inside ``|x| < 1/k``."""
    return surrogate("boxcar", k)


def triangular(k: float = 2.0) -> Callable[[jax.Array], jax.Array]:
    """Triangular surrogate: ``max(0, 1 - |k x|)``."""
    return surrogate("triangular", k)
