"""snnTorch: ``snn.Leaky`` neurons stepped in a Python time loop (``CanonicalNet``'s ``"stepwise"``
loop), the way snnTorch users write it.

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

from typing import ClassVar

import snntorch as snn
import torch

from frameworks.spec import IF, LI, LIF, CuBaLIF, ModelSpec
from frameworks.torch_base import Parameters, SpikeFn, TorchAdapter

UNSUPPORTED = {
    "ALIF": "snnTorch has no adaptive-threshold neuron: every snnTorch neuron has a fixed threshold",
    "RLIF": "snnTorch's RLeaky feeds spikes back through an nn.Linear with a bias (and its own init), "
    "and the canonical RLIF has no bias; this adapter does not patch RLeaky to match",
    "RIF": "snnTorch has no recurrent IF neuron, and RLeaky with beta=1 differs from the canonical "
    "RIF by the bias of its recurrent nn.Linear",
}
"""Canonical neuron -> why this adapter raises ``Unsupported`` for it."""


class StepLeaky(snn.Leaky):
    """``snn.Leaky`` stepped by ``CanonicalNet``: ``(x_t, mem) -> (output_t, mem)``, a fresh membrane
    (``reset_mem``) at the first step, as snnTorch users start each sequence. A readout
    (``membrane_out``) outputs its membrane; otherwise the spikes."""

    def __init__(self, *args, membrane_out: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.membrane_out = membrane_out

    def forward(self, x: torch.Tensor, mem: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        spikes, mem = super().forward(x, self.reset_mem() if mem is None else mem)
        return (mem if self.membrane_out else spikes), mem


class StepSynaptic(snn.Synaptic):
    """``snn.Synaptic`` stepped by ``CanonicalNet``: its state is ``(syn, mem)``, fresh at first."""

    def forward(self, x: torch.Tensor, state: tuple | None) -> tuple[torch.Tensor, tuple]:
        syn, mem = self.reset_mem() if state is None else state
        spikes, syn, mem = super().forward(x, syn, mem)
        return spikes, (syn, mem)


def _common(spec: ModelSpec, spike_fn: SpikeFn) -> dict:
    return {"threshold": spec.theta, "spike_grad": spike_fn}


def _lif(spec: ModelSpec, layer: LIF, spike_fn: SpikeFn) -> tuple[torch.nn.Module, Parameters]:
    beta, common = torch.zeros(layer.size), _common(spec, spike_fn)
    module = StepLeaky(beta=beta, learn_beta=True, reset_mechanism="subtract", **common)
    return module, {"beta": module.beta}


def _li(spec: ModelSpec, layer: LI, spike_fn: SpikeFn) -> tuple[torch.nn.Module, Parameters]:
    beta, common = torch.zeros(layer.size), _common(spec, spike_fn)
    module = StepLeaky(beta=beta, learn_beta=True, reset_mechanism="none", membrane_out=True, **common)
    return module, {"beta": module.beta}


def _if(spec: ModelSpec, layer: IF, spike_fn: SpikeFn) -> tuple[torch.nn.Module, Parameters]:
    beta, common = torch.ones(layer.size), _common(spec, spike_fn)
    module = StepLeaky(beta=beta, learn_beta=False, reset_mechanism="subtract", **common)
    return module, {}


def _cubalif(spec: ModelSpec, layer: CuBaLIF, spike_fn: SpikeFn) -> tuple[torch.nn.Module, Parameters]:
    decays = {"alpha": torch.zeros(layer.size), "beta": torch.zeros(layer.size)}
    learned = {"learn_alpha": True, "learn_beta": True}
    module = StepSynaptic(**decays, **learned, reset_mechanism="subtract", **_common(spec, spike_fn))
    return module, {"alpha": module.alpha, "beta": module.beta}


class SnnTorchAdapter(TorchAdapter):
    name = "snntorch"
    nir_support = "frameworks.nir.snntorch_nir:SnnTorchNIR"
    packages = ("snntorch", "torch")
    loop = "stepwise"
    neurons: ClassVar[dict] = {LIF: _lif, LI: _li, IF: _if, CuBaLIF: _cubalif}
    unsupported = UNSUPPORTED
