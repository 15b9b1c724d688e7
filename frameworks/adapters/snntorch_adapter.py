"""snnTorch: ``snn.Leaky`` neurons in a Python time loop, the way snnTorch users write it.

``Leaky`` with its defaults (subtractive reset, delayed by one step and detached) is the canonical
LIF exactly; ``learn_beta=True`` trains a per-neuron beta, clamped to [0, 1] by snnTorch. The
readout is a ``Leaky`` without reset whose membrane is the output; a network ending with a spiking
layer (the micro-benchmark) outputs that layer's spikes. The surrogate is passed as
``spike_grad``, because snnTorch's own atan is a different function (see frameworks/torch_base.py).

Other neurons: IF is a ``Leaky`` with beta fixed at 1; CuBaLIF is ``Synaptic`` (the same
equations, alpha and beta learnt, clamped to [0, 1]). ALIF, RLIF and RIF raise ``Unsupported``
(``UNSUPPORTED`` says why): no snnTorch neuron computes them exactly.
"""

from __future__ import annotations

import snntorch as snn
import torch

from frameworks.adapter import Unsupported
from frameworks.spec import IF, LI, LIF, CuBaLIF, Layer, ModelSpec
from frameworks.torch_base import SpikeFn, TorchAdapter, is_stateless, stateless_module

UNSUPPORTED = {
    "ALIF": "snnTorch has no adaptive-threshold neuron: every snnTorch neuron has a fixed threshold",
    "RLIF": "snnTorch's RLeaky feeds spikes back through an nn.Linear with a bias (and its own init), "
    "and the canonical RLIF has no bias; this adapter does not patch RLeaky to match",
    "RIF": "snnTorch has no recurrent IF neuron, and RLeaky with beta=1 differs from the canonical "
    "RIF by the bias of its recurrent nn.Linear",
}
"""Canonical neuron -> why this adapter raises ``Unsupported`` for it."""


def _neuron(spec: ModelSpec, layer: Layer, spike_fn: SpikeFn) -> tuple[torch.nn.Module, dict]:
    """snnTorch's neuron for ``layer`` and its canonical parameters (name suffix -> parameter)."""
    common = {"threshold": spec.theta, "spike_grad": spike_fn}
    if isinstance(layer, LIF | LI):
        reset = "subtract" if isinstance(layer, LIF) else "none"
        module = snn.Leaky(
            beta=torch.zeros(layer.size), learn_beta=True, reset_mechanism=reset, **common
        )
        return module, {"beta": module.beta}
    if isinstance(layer, IF):
        module = snn.Leaky(
            beta=torch.ones(layer.size), learn_beta=False, reset_mechanism="subtract", **common
        )
        return module, {}
    if isinstance(layer, CuBaLIF):
        module = snn.Synaptic(
            alpha=torch.zeros(layer.size),
            beta=torch.zeros(layer.size),
            learn_alpha=True,
            learn_beta=True,
            reset_mechanism="subtract",
            **common,
        )
        return module, {"alpha": module.alpha, "beta": module.beta}
    kind = type(layer).__name__
    raise Unsupported(f"snntorch cannot run {kind}: {UNSUPPORTED.get(kind, 'no such neuron')}")


class SnnTorchNet(torch.nn.Module):
    def __init__(self, spec: ModelSpec, spike_fn: SpikeFn):
        super().__init__()
        self.layers = torch.nn.ModuleList()
        self.canonical: dict[str, torch.nn.Parameter] = {}
        # An LI readout's output is its membrane (its Leaky's spikes mean nothing); otherwise spikes.
        self.membrane_out = isinstance(spec.layers[-1], LI)
        for i, layer in enumerate(spec.layers):
            if is_stateless(layer):
                module, params = stateless_module(layer)
            else:
                module, params = _neuron(spec, layer, spike_fn)
            self.canonical.update({f"{i}.{name}": p for name, p in params.items()})
            self.layers.append(module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mems = [m.reset_mem() if isinstance(m, snn.Synaptic | snn.Leaky) else None for m in self.layers]
        readout = []
        for x_t in x:
            h = x_t
            for i, module in enumerate(self.layers):
                if isinstance(module, snn.Synaptic):  # state (syn, mem)
                    h, syn, mem = module(h, *mems[i])
                    mems[i] = (syn, mem)
                elif isinstance(module, snn.Leaky):
                    h, mems[i] = module(h, mems[i])
                else:
                    h = module(h)
            readout.append(mems[-1] if self.membrane_out else h)
        return torch.stack(readout)


class SnnTorchAdapter(TorchAdapter):
    name = "snntorch"
    nir_support = "frameworks.nir.snntorch_nir:SnnTorchNIR"
    packages = ("snntorch", "torch")

    def build(self, spec: ModelSpec, spike_fn: SpikeFn) -> torch.nn.Module:
        return SnnTorchNet(spec, spike_fn)
