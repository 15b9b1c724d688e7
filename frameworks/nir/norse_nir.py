"""Norse's NIR support (``norse.torch.to_nir`` / ``norse.torch.from_nir``, Norse 1.1.0).

What its importer cannot represent, and what this module does about it:

* ``nir.LI`` has no mapping and is *silently dropped* (the output is the raw current): the
  readout is cut from the graph and applied outside it (``_normalise.without_readout``).
* ``r`` is ignored (the input gain is ``dt/tau``, not ``r*dt/tau``): each LIF threshold is divided
  by ``r`` (the membrane without ``r`` is ``v / r``), an IF's ``r * dt`` is folded into the weights
  before it (``_normalise.for_norse``).
* ``nir.Threshold`` has no mapping: ``nirtorch.load`` makes it a None module, which the executor
  *silently skips*; with two such nodes (the N-MNIST net's two max-pools) the None modules collide
  in nirtorch's module-keyed name table and the import fails (``KeyError: '2_threshold'``). The
  graph is imported in pieces cut at each Threshold (the second half of a max-pool of spikes), and
  the threshold is applied between them (``_torch.Chained``). SumPool2d becomes
  ``LPPool2d(norm_type=1)`` (the window sum, exact on spikes); Conv2d and Flatten are mapped.
* ``Flatten(start_dim, end_dim)`` becomes ``torch.nn.Flatten`` with the same dims, which the
  batched run would apply to the batch axis; ``_normalise.segments`` moves them past it.
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

from collections.abc import Callable
from typing import ClassVar

import nir
import norse.torch as norse
import numpy as np
import torch
from norse.torch.functional.reset import reset_subtract
from norse.torch.module.leaky_integrator_box import LIBoxCell, LIBoxParameters
from norse.torch.module.lif_box import LIFBoxCell, LIFBoxParameters

from frameworks.adapter import Unsupported
from frameworks.adapters.norse_adapter import EPS, NorseAdapter, leak_of
from frameworks.nir._normalise import for_norse
from frameworks.nir._torch import TorchNIR, quiet
from frameworks.spec import LI, LIF, Linear, ModelSpec
from spyx_core import nir as snir

EXPORT_UNSUPPORTED = {
    "Conv2d": "Norse 1.1.0's to_nir reads conv.bias.detach(), which fails (AttributeError) on the "
    "canonical Conv2d without bias",
    "MaxPool2d": "Norse 1.1.0's to_nir has no mapping for pooling layers: nirtorch writes a None "
    "node in their place",
    "Flatten": "Norse 1.1.0's to_nir has no mapping for torch.nn.Flatten: nirtorch writes a None "
    "node in its place",
}
"""Canonical layer -> why Norse's exporter cannot write it (``export`` raises ``Unsupported``)."""


def detached_reset(z: torch.Tensor, v: torch.Tensor, theta: float, beta: torch.Tensor):
    """Immediate reset by ``theta / beta`` (spike detached): after the next decay by ``beta`` this is
    the canonical delayed reset, for ``beta`` above ``EPS`` (stock Norse cells reset right after
    the spike, so an imported graph can only be made canonical this way)."""
    return v - z.detach() * theta / beta.clamp_min(EPS)


def canonical_reset(beta: torch.Tensor) -> Callable:
    """A Norse ``reset_method`` computing the canonical delayed reset for decay ``beta``."""

    def reset(z: torch.Tensor, v: torch.Tensor, _v_reset: torch.Tensor, v_th: torch.Tensor):
        return detached_reset(z, v, v_th, beta)

    return reset


def _leak(weights: dict[str, np.ndarray], index: int) -> torch.Tensor:
    beta = torch.from_numpy(np.clip(weights[f"{index}.beta"], 0, 1).astype(np.float32))
    return leak_of(beta)


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


class NorseNIR(TorchNIR):
    """``NIRSupport`` of Norse (module docstring)."""

    name = "norse"
    adapter = NorseAdapter
    exact_note = (
        "LI readout outside the graph; r moved into LIF thresholds, IF weights; LIF reset made canonical"
    )
    importer_note = (
        "semantic difference: importer resets LIF to 0 at once (canonical: subtract, delayed)"
    )
    inexact_nodes: ClassVar[dict[type, str]] = {nir.IF: "semantic difference: IF's IAFCell resets to 0"}
    tau_scale = 1 / snir.DT  # norse #411: its exporter writes tau = dt * tau_true

    def export_module(self, spec: ModelSpec, weights: dict[str, np.ndarray]) -> torch.nn.Module:
        """Stock Norse cells computing the canonical model (``_export_module``)."""
        return _export_module(spec, weights, snir.DT)

    def to_nir(self, module: torch.nn.Module, sample: torch.Tensor) -> nir.NIRGraph:
        """``norse.torch.to_nir`` at spikebench's time step."""
        return norse.to_nir(module, sample, dt=snir.DT)

    def prepare(self, graph: nir.NIRGraph) -> nir.NIRGraph:
        """``_normalise.for_norse``: ``r`` set to 1, its effect kept in thresholds and weights."""
        return for_norse(graph)

    def load(self, graph: nir.NIRGraph, *, canonical: bool) -> torch.nn.Module:
        """``norse.torch.from_nir``; ``canonical``: every ``LIFBoxCell`` given the canonical reset
        with its own imported ``beta``."""
        dt = float(graph.metadata.get("dt", snir.DT))
        with quiet():
            module = norse.from_nir(graph, reset_method=reset_subtract, dt=dt)
        if canonical:
            for cell in module.modules():
                if isinstance(cell, LIFBoxCell):
                    beta = 1 - dt * cell.p.tau_mem_inv  # the importer's own decay
                    cell.p = cell.p._replace(reset_method=canonical_reset(beta))
        return module
