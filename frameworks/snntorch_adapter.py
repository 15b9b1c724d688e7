"""snnTorch: ``snn.Leaky`` neurons in a Python time loop, the way snnTorch users write it.

``Leaky`` with its defaults (subtractive reset, delayed by one step and detached) is the canonical
LIF exactly; ``learn_beta=True`` trains a per-neuron beta, clamped to [0, 1] by snnTorch. The
readout is a ``Leaky`` without reset whose membrane is the output. The surrogate is passed as
``spike_grad``, because snnTorch's own atan is a different function (see frameworks/_torch.py).
"""

from __future__ import annotations

import snntorch as snn
import torch

from frameworks._torch import SpikeFn, TorchAdapter
from frameworks.spec import LI, LIF, Linear, ModelSpec


class SnnTorchNet(torch.nn.Module):
    def __init__(self, spec: ModelSpec, spike_fn: SpikeFn):
        super().__init__()
        self.layers = torch.nn.ModuleList()
        self.canonical: dict[str, torch.nn.Parameter] = {}
        for i, layer in enumerate(spec.layers):
            if isinstance(layer, Linear):
                module = torch.nn.Linear(layer.n_in, layer.n_out, bias=False)
                self.canonical[f"{i}.weight"] = module.weight
            else:
                reset = "subtract" if isinstance(layer, LIF) else "none"
                if not isinstance(layer, LIF | LI):
                    raise NotImplementedError(type(layer).__name__)
                module = snn.Leaky(
                    beta=torch.zeros(layer.size),
                    threshold=spec.theta,
                    spike_grad=spike_fn,
                    learn_beta=True,
                    reset_mechanism=reset,
                )
                self.canonical[f"{i}.beta"] = module.beta
            self.layers.append(module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mems = [m.init_leaky() if isinstance(m, snn.Leaky) else None for m in self.layers]
        readout = []
        for x_t in x:
            h = x_t
            for i, module in enumerate(self.layers):
                if isinstance(module, snn.Leaky):
                    h, mems[i] = module(h, mems[i])
                else:
                    h = module(h)
            readout.append(mems[-1])
        return torch.stack(readout)


class SnnTorchAdapter(TorchAdapter):
    name = "snntorch"
    packages = ("snntorch", "torch")

    def build(self, spec: ModelSpec, spike_fn: SpikeFn) -> torch.nn.Module:
        return SnnTorchNet(spec, spike_fn)
