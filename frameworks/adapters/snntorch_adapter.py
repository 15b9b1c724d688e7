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

The canonical model makes two choices snnTorch's defaults do not: a trained per-neuron beta and the
spec's surrogate. ``ABLATION_VARIANTS`` drop them one at a time, or both (``snntorch@defaults``:
``snn.Leaky(beta=0.95)``), each declared inexact with its ``semantics``, so that the cost of each
choice can be timed (docs/idioms.md).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

import snntorch as snn
import torch

from frameworks.spec import IF, LI, LIF, CuBaLIF, ModelSpec, NeuronLayer
from frameworks.torch_base import (
    COMPILE_VARIANTS,
    NeuronBuilder,
    Parameters,
    SpikeFn,
    TorchAdapter,
)

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


SCALAR_BETA = 0.95
"""The fixed scalar beta of the variants that drop the learned per-neuron beta: the Open
Neuromorphic benchmark's ``snn.Leaky(beta=0.95)``."""


@dataclass(frozen=True)
class Choices:
    """Which canonical choices the snnTorch network keeps; each one dropped is snnTorch's default.

    The canonical reset is snnTorch's default already (``reset_mechanism="subtract"``,
    ``reset_delay=True``, the reset term detached), so it is no choice here (docs/idioms.md).

    Attributes:
        learned_beta: per-neuron ``beta`` tensors trained with ``learn_beta=True``; False: every
            ``Leaky`` gets the fixed scalar ``SCALAR_BETA`` (snnTorch's ``learn_beta=False``).
        spec_surrogate: the spec's surrogate as ``spike_grad``; False: ``spike_grad=None``,
            snnTorch's default ``atan`` (alpha 2), whatever the spec names.
    """

    learned_beta: bool = True
    spec_surrogate: bool = True

    @property
    def exact(self) -> bool:
        return self.learned_beta and self.spec_surrogate

    def semantics(self) -> str:
        """How the network differs from the canonical model ("" when it does not)."""
        dropped = [text for name, text in DIFFERENCES.items() if not getattr(self, name)]
        return "; ".join(dropped)


DIFFERENCES = {
    "learned_beta": f"every Leaky's beta is one fixed scalar {SCALAR_BETA} (snnTorch's default "
    "learn_beta=False), not a trained per-neuron beta: the given betas are unused and get no gradient",
    "spec_surrogate": "the surrogate is snnTorch's default atan, derivative 1 / (1 + (pi x)^2), "
    "not the spec's",
}
"""``Choices`` field -> the ``semantics`` clause of a network that drops it."""


def _common(choices: Choices, spec: ModelSpec, spike_fn: SpikeFn) -> dict:
    return {"threshold": spec.theta, "spike_grad": spike_fn if choices.spec_surrogate else None}


def _leaky_beta(choices: Choices, size) -> dict:
    """``Leaky``'s beta arguments: a trained per-neuron tensor, or snnTorch's fixed scalar."""
    if choices.learned_beta:
        return {"beta": torch.zeros(size), "learn_beta": True}
    return {"beta": SCALAR_BETA}


def _beta_parameter(choices: Choices, module: snn.Leaky) -> Parameters:
    return {"beta": module.beta} if choices.learned_beta else {}


def _lif(choices, spec: ModelSpec, layer: LIF, spike_fn: SpikeFn) -> tuple[torch.nn.Module, Parameters]:
    beta, common = _leaky_beta(choices, layer.size), _common(choices, spec, spike_fn)
    module = StepLeaky(**beta, reset_mechanism="subtract", **common)
    return module, _beta_parameter(choices, module)


def _li(choices, spec: ModelSpec, layer: LI, spike_fn: SpikeFn) -> tuple[torch.nn.Module, Parameters]:
    beta, common = _leaky_beta(choices, layer.size), _common(choices, spec, spike_fn)
    module = StepLeaky(**beta, reset_mechanism="none", membrane_out=True, **common)
    return module, _beta_parameter(choices, module)


def _if(choices, spec: ModelSpec, layer: IF, spike_fn: SpikeFn) -> tuple[torch.nn.Module, Parameters]:
    beta, common = torch.ones(layer.size), _common(choices, spec, spike_fn)
    module = StepLeaky(beta=beta, learn_beta=False, reset_mechanism="subtract", **common)
    return module, {}


def _cubalif(
    choices, spec: ModelSpec, layer: CuBaLIF, spike_fn: SpikeFn
) -> tuple[torch.nn.Module, Parameters]:
    decays = {"alpha": torch.zeros(layer.size), "beta": torch.zeros(layer.size)}
    learned = {"learn_alpha": True, "learn_beta": True}
    common = _common(choices, spec, spike_fn)
    module = StepSynaptic(**decays, **learned, reset_mechanism="subtract", **common)
    return module, {"alpha": module.alpha, "beta": module.beta}


_BUILDERS = {LIF: _lif, LI: _li, IF: _if, CuBaLIF: _cubalif}
"""Neuron layer class -> ``builder(choices, spec, layer, spike_fn)``. Only ``Leaky`` layers take a
scalar beta; CuBaLIF (``Synaptic``) keeps its trained per-neuron decays in every variant."""


def neuron_table(choices: Choices) -> dict[type[NeuronLayer], NeuronBuilder]:
    """The ``CanonicalNet`` neuron table of a network making ``choices``."""
    return {kind: functools.partial(build, choices) for kind, build in _BUILDERS.items()}


ABLATION_VARIANTS: dict[str, dict[str, Any]] = {
    "scalar-beta": {"learned_beta": False},
    "atan": {"spec_surrogate": False},
    "defaults": {"learned_beta": False, "spec_surrogate": False},
}
"""snnTorch variants that each drop canonical choices for snnTorch's defaults (``Choices``);
``defaults`` drops every one, ``snn.Leaky(beta=0.95)`` as the Open Neuromorphic benchmark runs it.
``scripts/cpu/snntorch_ablation.sh`` times them (docs/idioms.md)."""


class SnnTorchAdapter(TorchAdapter):
    """snnTorch (module docstring); its variants are the compiled ones and ``ABLATION_VARIANTS``."""

    name = "snntorch"
    nir_support = "frameworks.nir.snntorch_nir:SnnTorchNIR"
    packages = ("snntorch", "torch")
    loop = "stepwise"
    neurons: ClassVar[dict] = neuron_table(Choices())
    unsupported = UNSUPPORTED
    VARIANTS: ClassVar[dict[str, dict[str, Any]]] = {**COMPILE_VARIANTS, **ABLATION_VARIANTS}

    def __init__(
        self,
        *,
        compile: dict[str, Any] | None = None,
        learned_beta: bool = True,
        spec_surrogate: bool = True,
    ):
        super().__init__(compile=compile)
        self.choices = Choices(learned_beta=learned_beta, spec_surrogate=spec_surrogate)
        self.exact, self.semantics = self.choices.exact, self.choices.semantics()

    def neuron_table(self) -> dict[type[NeuronLayer], NeuronBuilder]:
        return neuron_table(self.choices)
