"""The mapping between spyx_core's discrete neurons and NIR's continuous ones, derived once.

spyx_core (unit step, see ``spyx_core._neurons``)::

    LIF  v[t] = beta * v[t-1] + x[t] - theta * s[t-1],   s[t] = H(v[t] - theta)
    LI   v[t] = beta * v[t-1] + x[t]
    IF   v[t] =        v[t-1] + x[t] - theta * s[t-1]

NIR 1.0 (``nir.LIF``, ``nir.LI``, ``nir.IF``)::

    tau * dv/dt = (v_leak - v) + r * I        (IF: dv/dt = r * I)

One forward-Euler step of length ``dt`` gives::

    v[t] = (1 - dt/tau) * v[t-1] + (dt/tau) * r * I[t] + (dt/tau) * v_leak

Matching it term by term with the LIF/LI update::

    1 - dt/tau       = beta   =>  tau = dt / (1 - beta)
    (dt/tau) * r     = 1      =>  r   = tau / dt = 1 / (1 - beta)
    (dt/tau) * v_leak = 0     =>  v_leak = 0
    v_threshold = theta,  v_reset = 0

and for IF (``v[t] = v[t-1] + dt * r * I[t]``): ``r = 1 / dt``. Read back, ``beta = 1 - dt/tau`` and
the *input gain* ``g = r * dt / tau`` (``r * dt`` for IF) multiplies the incoming current; a graph
written by another tool may have ``g != 1`` (norse writes ``r = 1``), which is exact to fold into
the preceding linear layer's weights.

What NIR cannot say, and how spikebench writes it down:

* **The reset.** NIR neurons reset to ``v_reset`` right after the spike; the canonical model
  subtracts ``theta`` one step later, undecayed. It is stated in the node's metadata as
  ``RESET_METADATA`` (``reset="subtract"``, ``reset_delay=1``); readers that ignore metadata lose it.
* **beta exactly.** ``tau`` is float32 and ``1 - beta`` drops the low bits of a small ``beta``; at
  ``beta = 1`` the time constant is infinite. The continuous fields are written with
  ``1 - beta >= MIN_LEAK`` and the exact float32 ``beta`` (clipped to ``[0, 1]``, the value the
  model uses) is added as metadata ``"beta"``; a reader that honours it reproduces the network bit
  for bit, any other reader gets ``beta`` to float32 rounding of ``tau``.
"""

from __future__ import annotations

import numpy as np

DT = 1e-4
"""The default time step: snnTorch's importer hard-codes 1e-4, so graphs written with it import there."""

MIN_LEAK = 2.0**-24
"""Smallest ``1 - beta`` written to ``tau``/``r`` (float32's gap below 1): ``beta = 1`` stays finite."""

RESET_METADATA = {"reset": "subtract", "reset_delay": 1}
"""A neuron's reset: subtract ``theta`` at the step after the spike (the canonical model)."""

BETA_TOLERANCE = 1e-6
"""How far metadata ``beta`` may lie from ``1 - dt/tau`` (float32 rounding of ``tau``) to agree."""


def _f32(value: np.ndarray | float, size: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, np.float64), (size,)).astype(np.float32)


def _clipped(beta: np.ndarray) -> np.ndarray:
    """The effective decay: the canonical model clips beta to [0, 1] on every use."""
    return np.clip(np.asarray(beta, np.float32), 0.0, 1.0)


def leaky_to_nir(beta: np.ndarray, dt: float) -> dict[str, np.ndarray]:
    """``tau``, ``r`` and ``v_leak`` of a LIF/LI layer with decay ``beta`` ``[size]``.

    Args:
        beta: per-neuron decay (clipped to ``[0, 1]`` first, as the canonical model does).
        dt: the graph's time step.

    Returns:
        float32 ``[size]`` arrays ``tau = dt/(1-beta)``, ``r = 1/(1-beta)``, ``v_leak = 0``.
    """
    beta = _clipped(beta)
    leak = np.maximum(1.0 - beta.astype(np.float64), MIN_LEAK)
    size = beta.size
    return {"tau": _f32(dt / leak, size), "r": _f32(1.0 / leak, size), "v_leak": _f32(0.0, size)}


def lif_to_nir(beta: np.ndarray, theta: float, dt: float) -> dict[str, np.ndarray]:
    """Every field of ``nir.LIF`` for a canonical LIF layer (``leaky_to_nir`` plus threshold/reset)."""
    fields = leaky_to_nir(beta, dt)
    size = fields["tau"].size
    return {**fields, "v_threshold": _f32(theta, size), "v_reset": _f32(0.0, size)}


def if_to_nir(size: int, theta: float, dt: float) -> dict[str, np.ndarray]:
    """Every field of ``nir.IF`` for a canonical IF layer: ``r = 1/dt``, ``v_threshold = theta``."""
    return {"r": _f32(1.0 / dt, size), "v_threshold": _f32(theta, size), "v_reset": _f32(0.0, size)}


def beta_from_tau(tau: np.ndarray, dt: float) -> np.ndarray:
    """``beta = 1 - dt/tau`` as float32 (the inverse of ``leaky_to_nir``)."""
    return (1.0 - dt / np.asarray(tau, np.float64)).astype(np.float32)


def leaky_gain(tau: np.ndarray, r: np.ndarray, dt: float) -> np.ndarray:
    """The input gain ``r * dt / tau`` of a LIF/LI node (1 for graphs that spikebench writes)."""
    return (np.asarray(r, np.float64) * dt / np.asarray(tau, np.float64)).astype(np.float32)


def if_gain(r: np.ndarray, dt: float) -> np.ndarray:
    """The input gain ``r * dt`` of an IF node (1 for graphs that spikebench writes)."""
    return (np.asarray(r, np.float64) * dt).astype(np.float32)
