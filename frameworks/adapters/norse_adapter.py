"""Norse: the canonical model from ``norse.torch`` primitives, with the least customisation.

Norse's box neurons integrate ``v <- v + dt * tau_mem_inv * (v_leak - v + x)``, i.e.
``beta * v + (1 - beta) * x`` for ``dt * tau_mem_inv = 1 - beta``, and reset right after the spike.
Three customisations make that the canonical model (frameworks/spec.py) for every beta:

1. the input is divided by ``1 - beta``, so the integrated input is ``x`` (``beta`` stays the trained
   parameter; ``tau_mem_inv`` is derived from it on every step). At ``beta = 1`` Norse cannot divide:
   ``1 - beta`` is kept at 1e-6 or more in the division (the membrane then keeps ``1 - 1e-6`` of
   itself instead of all of it: a relative difference of 1e-6), and the beta gradient is added
   analytically (``_box_integrate``), so it stays canonical up to the boundary;
2. the reset is applied outside Norse's integrator, as the canonical delayed reset: the neuron's
   state carries its last spike and the next step subtracts ``theta * s[t-1]``, detached. (An
   immediate reset by ``theta / beta``, which the next decay would turn into the same, vanishes at
   ``beta = 0``: a beta trained onto zero would leave the model);
3. the spike uses the canonical surrogate, since Norse's ``threshold`` only knows its own names and
   its "super" surrogate ignores its slope.

IF integrates as Norse's ``iaf_feed_forward_step`` does (``v + x``, no leak, so no scaling), with
the same detached delayed reset: Norse's own IAF resets to ``v_reset``. CuBaLIF, ALIF, RLIF and RIF
raise ``Unsupported`` (``UNSUPPORTED`` says why).
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
from frameworks.torch_base import (
    LIFModule,
    LIModule,
    Parameters,
    SpikeFn,
    TorchAdapter,
    li_builder,
    lif_builder,
)

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


def leak_of(beta: torch.Tensor) -> torch.Tensor:
    """``1 - beta`` as Norse's ``tau_mem_inv``: at least ``EPS`` (Norse divides by it)."""
    return (1 - beta).clamp_min(EPS)


def _box_integrate(x: torch.Tensor, v: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """Norse's box integration step, scaled so that it computes ``beta * v + x``.

    Norse's step runs on the leak's value; the leak's gradient (``-v`` per unit of ``1 - beta``) is
    added analytically by a term that is zero in value. Differentiating through ``x / leak`` and
    back through ``leak * (...)`` would cancel two terms of size ``x / leak`` in float32, which near
    ``beta = 1`` (leak -> 1e-6) leaves percent-level errors in the beta gradient.
    """
    exact, leak = 1 - beta, leak_of(beta).detach()
    p = LIBoxParameters(tau_mem_inv=leak, v_leak=torch.zeros_like(leak))
    v_new, _ = li_box_feed_forward_step(x / leak, LIBoxState(v), p, dt=1.0)
    return v_new - (exact - exact.detach()) * v


State = tuple[torch.Tensor, torch.Tensor]
"""A spiking neuron's state: its membrane and its last spikes."""


class NorseLIF(LIFModule):
    """Canonical LIF from Norse's box integrator and the delayed reset (module docstring)."""

    def reset(self, z: torch.Tensor) -> torch.Tensor:
        """What the previous spikes ``z`` subtract from the membrane: ``theta * z``, detached."""
        return self.theta * z.detach()

    def integrate(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return _box_integrate(x, v, self.beta.clamp(0, 1))

    def forward(self, x: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        v, z = (torch.zeros_like(x), torch.zeros_like(x)) if state is None else state
        v = self.integrate(x, v) - self.reset(z)
        z = self.spike_fn(v - self.theta)
        return z, (v, z)


class NorseIF(NorseLIF):
    """Canonical IF: Norse's IAF integration ``v + x`` with the detached delayed reset."""

    def __init__(self, theta: float, spike_fn: SpikeFn):
        torch.nn.Module.__init__(self)
        self.theta, self.spike_fn = theta, spike_fn

    def integrate(self, x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return v + x


class NorseLI(LIModule):
    """Canonical leaky-integrator readout from Norse's box integrator."""

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
