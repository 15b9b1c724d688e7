"""Plain PyTorch: ``nn.Linear`` and the canonical LIF and LI written out by hand, no SNN library.

The network runs layer by layer, as spyx_core's ``layerwise`` implementation does: each Linear
maps every time step at once (one matmul on ``[T, B, n_in]``) and each neuron layer loops over time
in Python. The LIF is frameworks/spec.py line by line: ``v = beta * v + I - theta * s`` with the
previous spike detached, ``s = H(v - theta)`` with the canonical surrogate; ``beta`` per neuron,
clipped to [0, 1] on every use. ``torch_compile`` (``adapters/torch_compile_adapter.py``) runs this
same module under ``torch.compile``.
"""

from __future__ import annotations

import torch

from frameworks.adapter import Unsupported
from frameworks.spec import LI, LIF, Linear, ModelSpec
from frameworks.torch_base import SpikeFn, TorchAdapter


class PlainLIF(torch.nn.Module):
    """The canonical LIF over a whole sequence ``[T, B, size]``, spikes out."""

    def __init__(self, size: int, theta: float, spike_fn: SpikeFn):
        super().__init__()
        self.beta = torch.nn.Parameter(torch.zeros(size))
        self.theta, self.spike_fn = theta, spike_fn

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


class PlainLI(torch.nn.Module):
    """The canonical leaky-integrator readout over ``[T, B, size]``: its membrane trace."""

    def __init__(self, size: int):
        super().__init__()
        self.beta = torch.nn.Parameter(torch.zeros(size))

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        beta = self.beta.clamp(0, 1)
        u = torch.zeros_like(current[0])
        trace = []
        for x in current:
            u = beta * u + x
            trace.append(u)
        return torch.stack(trace)


class LayerwiseNet(torch.nn.Module):
    """A spec's layers as torch modules applied in turn to the whole sequence ``[T, B, ...]``.

    Subclasses choose the neuron modules (``lif_class``, ``li_class``, built as
    ``lif_class(size, theta, spike_fn)`` and ``li_class(size)``); Linear layers are ``nn.Linear``
    without bias, and ``canonical`` maps canonical names to the parameters.
    """

    lif_class: type[torch.nn.Module] = PlainLIF
    li_class: type[torch.nn.Module] = PlainLI

    def __init__(self, spec: ModelSpec, spike_fn: SpikeFn):
        super().__init__()
        self.layers = torch.nn.ModuleList()
        self.canonical: dict[str, torch.nn.Parameter] = {}
        for i, layer in enumerate(spec.layers):
            module = self.layer(spec, layer, spike_fn)
            name = "weight" if isinstance(layer, Linear) else "beta"
            self.canonical[f"{i}.{name}"] = getattr(module, name)
            self.layers.append(module)

    def layer(self, spec: ModelSpec, layer, spike_fn: SpikeFn) -> torch.nn.Module:
        """The module of one spec layer.

        Raises:
            Unsupported: a layer type this network has no module for (named).
        """
        if isinstance(layer, Linear):
            return torch.nn.Linear(layer.n_in, layer.n_out, bias=False)
        if isinstance(layer, LIF):
            return self.lif_class(layer.size, spec.theta, spike_fn)
        if isinstance(layer, LI):
            return self.li_class(layer.size)
        kind = type(layer).__name__
        raise Unsupported(f"{type(self).__name__} implements Linear, LIF and LI only, not {kind}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self.layers:
            x = module(x)
        return x


class TorchPlainAdapter(TorchAdapter):
    """The canonical model in plain PyTorch, eager (module docstring)."""

    name = "torch_plain"
    packages = ("torch",)
    net_class: type[LayerwiseNet] = LayerwiseNet

    def build(self, spec: ModelSpec, spike_fn: SpikeFn) -> torch.nn.Module:
        return self.net_class(spec, spike_fn)
