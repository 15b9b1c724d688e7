"""Norse: the canonical model from ``norse.torch`` primitives, with the least customisation.

Norse's box neurons integrate ``v <- v + dt * tau_mem_inv * (v_leak - v + x)``, i.e.
``beta * v + (1 - beta) * x`` for ``dt * tau_mem_inv = 1 - beta``, and reset right after the spike.
Three customisations make that the canonical model (frameworks/spec.py):

1. the input is divided by ``1 - beta``, so the integrated input is ``x`` (``beta`` stays the trained
   parameter; ``tau_mem_inv`` is derived from it on every step);
2. the reset subtracts ``theta / beta`` right away, with the spike detached: after the next decay
   this is exactly the canonical delayed reset ``- theta * s[t-1]``;
3. the spike uses the canonical surrogate, since Norse's ``threshold`` only knows its own names and
   its "super" surrogate ignores its slope.

``1 - beta`` and ``beta`` are kept above 1e-6 in these divisions: at ``beta`` exactly 0 or 1 Norse
cannot express the model, and the result differs there by that margin.

IF integrates as Norse's ``iaf_feed_forward_step`` does (``v + x``, no leak, so no scaling), with
the same detached subtractive reset (``theta / beta = theta``): Norse's own IAF resets to
``v_reset``. CuBaLIF, ALIF, RLIF and RIF raise ``Unsupported`` (``UNSUPPORTED`` says why).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from norse.torch.functional.leaky_integrator_box import (
    LIBoxParameters,
    LIBoxState,
    li_box_feed_forward_step,
)

from frameworks.spec import IF, LI, LIF, ModelSpec
from frameworks.torch_base import Parameters, SpikeFn, TorchAdapter, li_builder, lif_builder

EPS = 1e-6

UNSUPPORTED = {
    "CuBaLIF": "Norse's current-based lif_feed_forward_step scales the current by dt * tau_mem_inv "
    "and resets to v_reset through the spike's gradient; the canonical CuBaLIF integrates i[t] "
    "unscaled with a detached subtractive reset, and this adapter has no exact rewrite of it",
    "ALIF": "Norse's adaptive neuron (lsnn_feed_forward_step) is also current-based, relaxes its "
    "threshold b towards v_th and adds beta * z per spike, resetting to v_reset; the canonical "
    "ALIF has no synaptic current, th[t] = theta + adaptation * a[t] with "
    "a[t] = gamma * a[t-1] + (1 - gamma) * s[t-1], and a subtractive reset",
    "RLIF": "Norse's recurrent LIF cells are current-based and reset to v_reset; this adapter has "
    "no exact form of the canonical RLIF (no synaptic current, detached subtractive reset)",
    "RIF": "Norse's recurrent IAF (iaf_step) resets to v_reset through the spike's gradient, not "
    "by the canonical detached subtraction",
}
"""Canonical neuron -> why this adapter raises ``Unsupported`` for it."""


def _box_integrate(x: torch.Tensor, v: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Norse's box integration step, scaled so that it computes ``beta * v + x``."""
    leak = (1 - beta).clamp_min(EPS)
    p = LIBoxParameters(tau_mem_inv=leak, v_leak=torch.zeros_like(leak))
    v_new, _ = li_box_feed_forward_step(x / leak, LIBoxState(v), p, dt=1.0)
    return v_new


def detached_reset(z: torch.Tensor, v: torch.Tensor, theta: float, beta: torch.Tensor):
    """Immediate reset by ``theta / beta`` (spike detached) == the canonical delayed reset."""
    return v - z.detach() * theta / beta.clamp_min(EPS)


class NorseLIF(torch.nn.Module):
    """Canonical LIF from Norse's box integrator (module docstring)."""

    reset = staticmethod(detached_reset)

    def __init__(self, size: int, theta: float, spike_fn: SpikeFn):
        super().__init__()
        self.beta = torch.nn.Parameter(torch.zeros(size))
        self.theta, self.spike_fn = theta, spike_fn

    def forward(self, x: torch.Tensor, v: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        v = torch.zeros_like(x) if v is None else v
        beta = self.beta.clamp(0, 1)
        v = _box_integrate(x, v, beta)
        z = self.spike_fn(v - self.theta)
        return z, self.reset(z, v, self.theta, beta)


class NorseIF(torch.nn.Module):
    """Canonical IF: Norse's IAF integration ``v + x`` with the detached subtractive reset."""

    def __init__(self, theta: float, spike_fn: SpikeFn):
        super().__init__()
        self.theta, self.spike_fn = theta, spike_fn

    def forward(self, x: torch.Tensor, v: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        v = torch.zeros_like(x) if v is None else v
        v = v + x
        z = self.spike_fn(v - self.theta)
        return z, detached_reset(z, v, self.theta, torch.ones_like(v))


class NorseLI(torch.nn.Module):
    """Canonical leaky-integrator readout from Norse's box integrator."""

    def __init__(self, size: int):
        super().__init__()
        self.beta = torch.nn.Parameter(torch.zeros(size))

    def forward(self, x: torch.Tensor, v: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        v = torch.zeros_like(x) if v is None else v
        v = _box_integrate(x, v, self.beta.clamp(0, 1))
        return v, v


def _if(spec: ModelSpec, layer: IF, spike_fn: SpikeFn) -> tuple[torch.nn.Module, Parameters]:
    return NorseIF(spec.theta, spike_fn), {}


class NorseAdapter(TorchAdapter):
    name = "norse"
    nir_support = "frameworks.nir.norse_nir:NorseNIR"
    packages = ("norse", "torch")
    loop = "stepwise"
    neurons: ClassVar[dict] = {LIF: lif_builder(NorseLIF), LI: li_builder(NorseLI), IF: _if}
    unsupported = UNSUPPORTED
