"""Norse's NIR support (``norse.torch.to_nir`` / ``norse.torch.from_nir``, Norse 1.1.0).

What its importer cannot represent, and what this module does about it:

* ``nir.LI`` has no mapping and is *silently dropped* (the output is the raw current): the
  readout is cut from the graph and applied outside it (``_nir_normalise.without_readout``).
* ``r`` is ignored (the input gain is ``dt/tau``, not ``r*dt/tau``): each LIF threshold is divided
  by ``r`` (the membrane without ``r`` is ``v / r``), an IF's ``r * dt`` is folded into the weights
  before it (``_nir_normalise.for_norse``).
* ``nir.Threshold`` has no mapping: ``nirtorch.load`` makes it a None module, which the executor
  *silently skips*; with two such nodes (the N-MNIST net's two max-pools) the None modules collide
  in nirtorch's module-keyed name table and the import fails (``KeyError: '2_threshold'``). The
  graph is imported in pieces cut at each Threshold (the second half of a max-pool of spikes), and
  the threshold is applied between them (``_nir_torch.Chained``). SumPool2d becomes
  ``LPPool2d(norm_type=1)`` (the window sum, exact on spikes); Conv2d and Flatten are mapped.
* ``Flatten(start_dim, end_dim)`` becomes ``torch.nn.Flatten`` with the same dims, which the
  batched run would apply to the batch axis; ``_nir_normalise.segments`` moves them past it.
* Every LIF resets with ``reset_value`` (to 0, at once): ``from_nir(reset_method=...)`` reaches
  CubaLIF nodes only, so even ``reset_subtract`` (which would subtract ``theta`` at once, i.e.
  ``beta * theta`` after the next decay, not the canonical ``theta``) cannot be asked for. The
  ``"norse"`` entry gives each imported ``LIFBoxCell`` the canonical reset (``theta / beta`` at once,
  as the Norse adapter does) with the cell's own imported ``beta``; ``"norse, importer reset"``
  keeps what the importer built, so its deviation is the reset semantics alone.
* IF becomes ``IAFCell``, which resets to ``v_reset`` and takes no reset method at all.
* ``from_nir`` goes through the deprecated ``nirtorch.load`` (a DeprecationWarning, swallowed here).

Its exporter writes ``tau = dt * tau_true`` (norse #411), torch tensors instead of arrays and 0-d
parameters of the cell's own shape; ``export`` normalises all of it. It cannot write the N-MNIST
network (``EXPORT_UNSUPPORTED``), so ``export`` refuses it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial

import nir
import norse.torch as norse
import numpy as np
import torch
from norse.torch.functional.reset import reset_subtract
from norse.torch.module.leaky_integrator_box import LIBoxCell, LIBoxParameters
from norse.torch.module.lif_box import LIFBoxCell, LIFBoxParameters

from frameworks._nir_normalise import canonicalise, for_norse
from frameworks._nir_torch import Way, import_ways, run_sequence
from frameworks.adapter import Unsupported
from frameworks.adapters.norse_adapter import EPS, NorseAdapter, detached_reset
from frameworks.nir_bridge import DT
from frameworks.nir_support import Imported, Trace
from frameworks.spec import IF, LI, LIF, Linear, ModelSpec

NAME = "norse"
EXACT_NOTE = (
    "LI readout outside the graph; r moved into LIF thresholds, IF weights; LIF reset made canonical"
)
STOCK_NOTE = "semantic difference: importer resets LIF to 0 at once (canonical: subtract, delayed)"

EXPORT_UNSUPPORTED = {
    "Conv2d": "Norse 1.1.0's to_nir reads conv.bias.detach(), which fails (AttributeError) on the "
    "canonical Conv2d without bias",
    "MaxPool2d": "Norse 1.1.0's to_nir has no mapping for pooling layers: nirtorch writes a None "
    "node in their place",
    "Flatten": "Norse 1.1.0's to_nir has no mapping for torch.nn.Flatten: nirtorch writes a None "
    "node in its place",
}
"""Canonical layer -> why Norse's exporter cannot write it (``export`` raises ``Unsupported``)."""


def canonical_reset(beta: torch.Tensor) -> Callable:
    """A Norse ``reset_method`` computing the canonical delayed reset for decay ``beta``."""

    def reset(z: torch.Tensor, v: torch.Tensor, _v_reset: torch.Tensor, v_th: torch.Tensor):
        return detached_reset(z, v, v_th, beta)

    return reset


def _leak(weights: dict[str, np.ndarray], index: int) -> torch.Tensor:
    beta = torch.from_numpy(np.clip(weights[f"{index}.beta"], 0, 1).astype(np.float32))
    return (1 - beta).clamp_min(EPS)


def _export_module(spec: ModelSpec, weights: dict[str, np.ndarray], dt: float) -> torch.nn.Module:
    """Stock Norse cells computing the canonical model: inputs scaled by ``1 / (1 - beta)``."""
    modules: list[torch.nn.Module] = []
    for i, layer in enumerate(spec.layers):
        if isinstance(layer, Linear):
            linear = torch.nn.Linear(layer.n_in, layer.n_out, bias=False)
            weight = torch.from_numpy(np.asarray(weights[f"{i}.weight"], np.float32)).T
            linear.weight.data = (weight / _leak(weights, i + 1).reshape(-1, 1)).contiguous()
            modules.append(linear)
        elif isinstance(layer, LIF):
            leak, theta = _leak(weights, i), torch.full((layer.size,), float(spec.theta))
            p = LIFBoxParameters(
                tau_mem_inv=leak / dt,
                v_th=theta,
                v_leak=torch.zeros(layer.size),
                reset_method=canonical_reset(1 - leak),
            )
            modules.append(LIFBoxCell(p, dt=dt))
        elif isinstance(layer, LI):
            p = LIBoxParameters(tau_mem_inv=_leak(weights, i) / dt, v_leak=torch.zeros(layer.size))
            modules.append(LIBoxCell(p, dt=dt))
        else:
            kind = type(layer).__name__
            reason = EXPORT_UNSUPPORTED.get(kind, "no NIR mapping in spikebench's Norse export")
            raise Unsupported(f"norse's NIR export of layer {i} ({kind}) is not supported: {reason}")
    return norse.SequentialState(*modules)


def export(spec: ModelSpec, weights: dict[str, np.ndarray]) -> nir.NIRGraph:
    """The canonical graph, through ``norse.torch.to_nir`` and normalisation."""
    module = _export_module(spec, weights, DT)
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "nirtorch.extract_nir_graph is being deprecated", DeprecationWarning
        )
        graph = norse.to_nir(module, torch.zeros(spec.input_shape), dt=DT)  # unbatched sample
    readout = [str(len(spec.layers) - 1)]
    return canonicalise(graph, source=NAME, dt=DT, tau_scale=1 / DT, readout=readout, spec=spec)


def native(spec: ModelSpec, weights: dict[str, np.ndarray], spikes: np.ndarray) -> Trace:
    """The Norse adapter's own network on ``spikes``, with each spiking layer's spikes."""
    net = NorseAdapter().model(spec, weights)
    spiking = {i: net.layers[i] for i, layer in enumerate(spec.layers) if isinstance(layer, LIF | IF)}
    readout, recorded = run_sequence(net, spikes, spiking)
    return Trace(recorded, readout)


def _load(graph: nir.NIRGraph, *, canonical: bool) -> torch.nn.Module:
    dt = float(graph.metadata.get("dt", DT))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "nirtorch.load is being deprecated", DeprecationWarning)
        module = norse.from_nir(graph, reset_method=reset_subtract, dt=dt)
    if canonical:
        for cell in module.modules():
            if isinstance(cell, LIFBoxCell):
                beta = 1 - dt * cell.p.tau_mem_inv  # the importer's own decay
                cell.p = cell.p._replace(reset_method=canonical_reset(beta))
    return module


def imports(graph: nir.NIRGraph, spikes: np.ndarray) -> list[Imported]:
    """The graph through ``norse.torch.from_nir``: with the canonical reset, and as imported.

    The LI readout and any max-pool thresholds are applied outside Norse (module docstring).
    """
    kinds = {type(node) for node in graph.nodes.values()}
    exact_note = EXACT_NOTE
    if nir.Threshold in kinds:
        exact_note += "; max-pool thresholds applied between imported pieces"
    if nir.IF in kinds:
        exact_note += "; semantic difference: IF's IAFCell resets to 0"
    ways = (
        Way(NAME, partial(_load, canonical=True), exact_note, nir.IF not in kinds),
        Way(f"{NAME}, importer reset", partial(_load, canonical=False), STOCK_NOTE, False),
    )
    return import_ways(graph, spikes, for_norse, ways)
