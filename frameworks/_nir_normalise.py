"""Every fix-up between spikebench's canonical NIR graph and third-party NIR code, in one place.

See shared/notes/nir.md §3 (nir 1.0.8, snnTorch 1.0.0, Norse 1.1.0):

* ``canonicalise``: a graph from snnTorch's ``export_to_nir`` or Norse's ``to_nir`` becomes the
  canonical graph: parameters as float32 numpy (Norse writes torch tensors), broadcast per neuron
  (§3.1), the batch axis dropped from Input/Output types (§3.2), Norse's time constants divided by
  ``dt`` (§3.4, norse #411), a readout that the exporter wrote as a spiking LIF turned into LI
  (neither exporter encodes ``reset_mechanism="none"``), the source's reset stated in metadata,
  and the graph rebuilt so that types are inferred again (§3.3).
* ``without_readout``: neither importer maps ``nir.LI`` (snnTorch raises, Norse silently drops it),
  so the LI readout is cut from the graph and applied outside it (§3.6).
* ``for_snntorch``: its importer hard-codes ``dt = 1e-4`` (§3.5) and needs ``r = 1`` on IF.
* ``for_norse``: its importer ignores ``r`` (its input gain is ``dt/tau``), so ``r`` is folded into
  the weights of the layer before.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import nir
import numpy as np

from frameworks.nir_bridge import DT
from spyx_core import nir as snir

SNNTORCH_DT = 1e-4
"""The time step snnTorch 1.0.0's importer assumes (hard-coded)."""


def _array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor (Norse's exporter)
        value = value.detach().cpu().numpy()
    return np.asarray(value, np.float32)


def _predecessor(graph: nir.NIRGraph, name: str) -> str:
    return next(src for src, dst in graph.edges if dst == name)


def _rebuild(
    graph: nir.NIRGraph,
    nodes: dict[str, nir.NIRNode],
    edges: list[tuple[str, str]] | None = None,
    **meta: Any,
) -> nir.NIRGraph:
    """A fresh, type-checked graph (§3.3): ``nodes``, ``graph``'s edges and metadata, plus ``meta``."""
    metadata = {**(graph.metadata or {}), **meta}
    return nir.NIRGraph(nodes=nodes, edges=list(edges or graph.edges), metadata=metadata)


def _unbatched(node: nir.NIRNode) -> nir.NIRNode:
    """Input/Output with a leading batch entry dropped (§3.2: ``[1, C]`` -> ``[C]``)."""
    is_input = isinstance(node, nir.Input)
    shape = np.asarray(node.input_type["input"] if is_input else node.output_type["output"])
    shape = shape[1:] if shape.size == 2 else shape
    return nir.Input(shape) if is_input else nir.Output(shape)


def _neuron(node: nir.NIRNode, width: int, *, tau_scale: float, reset: bool, li: bool) -> nir.NIRNode:
    """A neuron node with float32 per-neuron fields (§3.1), ``tau`` rescaled (§3.4)."""

    def field(name: str, default: float = 0.0) -> np.ndarray:
        value = getattr(node, name, None)
        return np.broadcast_to(_array(default if value is None else value), (width,)).copy()

    leaky = {"tau": field("tau") * np.float32(tau_scale), "r": field("r"), "v_leak": field("v_leak")}
    meta = dict(snir.RESET_METADATA) if reset else {}
    if li or isinstance(node, nir.LI):
        return nir.LI(**leaky)
    spiking = {"v_threshold": field("v_threshold"), "v_reset": field("v_reset")}
    if isinstance(node, nir.IF):
        return nir.IF(r=leaky["r"], **spiking, metadata=meta)
    return nir.LIF(**leaky, **spiking, metadata=meta)


def canonicalise(
    graph: nir.NIRGraph,
    *,
    source: str,
    dt: float,
    tau_scale: float = 1.0,
    readout: Iterable[str] = (),
    spec: Any = None,
) -> nir.NIRGraph:
    """The canonical graph of a graph exported by a third-party library (module docstring).

    Args:
        graph: as the exporter returned it.
        source: the exporting framework, recorded as metadata ``"source"``.
        dt: the time step the exported parameters are expressed in.
        tau_scale: factor on every ``tau`` (Norse 1.1.0: ``1 / dt``).
        readout: names of nodes that are LI readouts however the exporter wrote them.
        spec: the ``ModelSpec`` the graph came from, recorded as metadata ``"spec"``.

    Returns:
        A type-checked graph whose LIF/IF nodes carry ``RESET_METADATA`` (the source adapters all
        implement the canonical subtractive delayed reset).
    """
    readout, nodes = set(readout), {}
    for name, node in graph.nodes.items():
        if isinstance(node, nir.Input | nir.Output):
            nodes[name] = _unbatched(node)
        elif isinstance(node, nir.Affine):
            nodes[name] = nir.Affine(weight=_array(node.weight), bias=_array(node.bias))
        elif isinstance(node, nir.Linear):
            nodes[name] = nir.Linear(weight=_array(node.weight))
        elif isinstance(node, nir.LIF | nir.LI | nir.IF):
            width = _array(graph.nodes[_predecessor(graph, name)].weight).shape[0]
            is_li = name in readout
            nodes[name] = _neuron(node, width, tau_scale=tau_scale, reset=not is_li, li=is_li)
        else:
            nodes[name] = node
    meta = {"source": source, "dt": dt}
    if spec is not None:
        meta["spec"] = json.dumps(spec.to_dict())
    return _rebuild(graph, nodes, **meta)


def without_readout(graph: nir.NIRGraph) -> tuple[nir.NIRGraph, snir.Decoded | None]:
    """The graph with a final LI node cut out, and that node read back (None: there was none).

    The Output then follows the LI node's predecessor; the caller applies the readout
    ``u[t] = beta * u[t-1] + gain * y[t]`` outside the graph.
    """
    output = next(name for name, node in graph.nodes.items() if isinstance(node, nir.Output))
    last = _predecessor(graph, output)
    if not isinstance(graph.nodes[last], nir.LI):
        return graph, None
    readout = snir.decode(last, graph.nodes[last], float(graph.metadata.get("dt", DT)))
    before = _predecessor(graph, last)
    nodes = {k: v for k, v in graph.nodes.items() if k != last}
    edges = [e for e in graph.edges if last not in e] + [(before, output)]
    nodes[output] = nir.Output(np.asarray(graph.nodes[before].output_type["output"]))
    return _rebuild(graph, nodes, edges), readout


def _fold_gain(graph: nir.NIRGraph, nodes: dict, name: str, gain: np.ndarray) -> None:
    """Multiplies the output rows of the Linear/Affine before ``name`` by ``gain`` (in ``nodes``)."""
    before = _predecessor(graph, name)
    node = nodes[before]
    weight = _array(node.weight) * gain.reshape(-1, 1).astype(np.float32)
    if isinstance(node, nir.Affine):
        nodes[before] = nir.Affine(weight=weight, bias=_array(node.bias) * gain.astype(np.float32))
    else:
        nodes[before] = nir.Linear(weight=weight)


def _with(node: nir.NIRNode, **fields: np.ndarray) -> nir.NIRNode:
    names = ("tau", "r", "v_leak", "v_threshold", "v_reset")
    keep = {f: getattr(node, f) for f in names if hasattr(node, f)}
    return type(node)(**{**keep, **fields}, metadata=dict(node.metadata))


def for_snntorch(graph: nir.NIRGraph) -> nir.NIRGraph:
    """The graph at snnTorch's ``dt = 1e-4`` with every input gain 1 (same ``beta``, same function).

    snnTorch's importer turns a gain ``r*dt/tau`` other than 1 into a threshold scale and keeps only
    the first distinct value, so per-neuron gains are folded into the weights before it instead;
    IF needs ``r = 1`` and a gain ``r*dt`` of 1, folded the same way.
    """
    dt, nodes = float(graph.metadata.get("dt", DT)), dict(graph.nodes)
    for name, node in graph.nodes.items():
        if isinstance(node, nir.LIF | nir.LI):
            gain = snir.leaky_gain(_array(node.tau), _array(node.r), dt)
            if not np.allclose(gain, 1.0, rtol=1e-6, atol=0):
                _fold_gain(graph, nodes, name, gain)
            tau = (_array(node.tau).astype(np.float64) * (SNNTORCH_DT / dt)).astype(np.float32)
            r = (tau.astype(np.float64) / SNNTORCH_DT).astype(np.float32)
            nodes[name] = _with(node, tau=tau, r=r)
        elif isinstance(node, nir.IF):
            _fold_gain(graph, nodes, name, _array(node.r) * np.float32(dt))
            nodes[name] = _with(node, r=np.ones_like(_array(node.r)))
    return _rebuild(graph, nodes, dt=SNNTORCH_DT)


def for_norse(graph: nir.NIRGraph) -> nir.NIRGraph:
    """The graph with ``r`` folded into the weights (Norse ignores it) and set to 1."""
    dt, nodes = float(graph.metadata.get("dt", DT)), dict(graph.nodes)
    for name, node in graph.nodes.items():
        if isinstance(node, nir.LIF | nir.LI | nir.IF):
            # Norse integrates dt/tau * x (LIF) or x (IF); the canonical gain is r*dt/tau or r*dt.
            extra = _array(node.r) * (np.float32(dt) if isinstance(node, nir.IF) else 1)
            _fold_gain(graph, nodes, name, extra)
            nodes[name] = _with(node, r=np.ones_like(_array(node.r)))
    return _rebuild(graph, nodes)
