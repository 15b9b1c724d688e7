"""Plain PyTorch: ``nn.Linear`` and the canonical LIF and LI written out by hand, no SNN library.

The network runs layer by layer (``CanonicalNet``'s ``"layerwise"`` loop), as spyx_core's
``layerwise`` implementation does: each Linear or Conv2d maps every time step at once (one matmul
or convolution over ``T * B`` frames) and each neuron layer loops over time in Python. The LIF is
frameworks/spec.py line by line: ``v = beta * v + I - theta * s`` with the previous spike detached,
``s = H(v - theta)`` with the canonical surrogate; ``beta`` per neuron, clipped to [0, 1] on every
use. ``torch_plain@compile`` (``frameworks/torch_compiled.py``; ``torch_compile`` is its former
name) runs this same module under ``torch.compile``.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from frameworks.spec import LI, LIF
from frameworks.torch_base import LIFModule, LIModule, TorchAdapter, li_builder, lif_builder


class PlainLIF(LIFModule):
    """The canonical LIF over a whole sequence ``[T, B, size]``, spikes out."""

    def integrate(self, v: torch.Tensor, x: torch.Tensor, s: torch.Tensor, beta: torch.Tensor):
        """One step's new membrane from the previous one and spike (the reset term detached)."""
        return beta * v + x - self.theta * s.detach()

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        beta = self.beta.clamp(0, 1)
        v = torch.zeros_like(current[0])
        s = torch.zeros_like(current[0])
        spikes = []
        for x in current:
            v = self.integrate(v, x, s, beta)
            s = self.spike_fn(v - self.theta)
            spikes.append(s)
        return torch.stack(spikes)


class PlainLI(LIModule):
    """The canonical leaky-integrator readout over ``[T, B, size]``: its membrane trace."""

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        beta = self.beta.clamp(0, 1)
        u = torch.zeros_like(current[0])
        trace = []
        for x in current:
            u = beta * u + x
            trace.append(u)
        return torch.stack(trace)


class TorchPlainAdapter(TorchAdapter):
    """The canonical model in plain PyTorch, eager (module docstring)."""

    name = "torch_plain"
    packages = ("torch",)
    neurons: ClassVar[dict] = {LIF: lif_builder(PlainLIF), LI: li_builder(PlainLI)}
