"""Every fix-up between spikebench's canonical NIR graph and third-party NIR code, in one place.

docs/nir.md#normalising-third-party-graphs says why each is needed (nir 1.0.8, snnTorch 1.0.0,
Norse 1.1.0); its subsections are cited by name below (``#per-neuron-parameters`` etc.):

* ``canonicalise``: a graph from snnTorch's ``export_to_nir`` or Norse's ``to_nir`` becomes the
  canonical graph: parameters as float32 numpy (Norse writes torch tensors), broadcast per neuron
  (``#per-neuron-parameters``) to the shape of the layer before (``(C, H, W)`` after a Conv2d),
  the batch axis dropped from Input/Output types (``#no-batch-axis``: ``[1, C]`` and
  ``[1, C, H, W]``), Norse's time constants divided by ``dt`` (``#norse-time-constants``, norse
  #411), a readout that the exporter wrote as a spiking LIF turned into LI (neither exporter
  encodes ``reset_mechanism="none"``), a max-pool that the exporter wrote as the AvgPool2d it can
  write turned into the canonical SumPool2d + Threshold pair, the source's reset stated in
  metadata, and the graph rebuilt so that types are inferred again (``#rebuilt-graph``).
* ``without_readout``: neither importer maps ``nir.LI`` (snnTorch raises, Norse silently drops it),
  so the LI readout is cut from the graph and applied outside it (``#li-readout-outside-the-graph``).
* ``for_snntorch``: its importer hard-codes ``dt = 1e-4`` (``#snntorch-time-step``) and needs
  ``r = 1`` on IF.
* ``for_norse``: its importer ignores ``r`` (its input gain is ``dt/tau``). For LIF the membrane is
  then ``v / r``, so each threshold is divided by ``r`` (exact, per neuron, whatever layer comes
  before); for IF ``r`` is folded into the weights of the layer before.
* ``segments``: neither importer maps ``nir.Threshold`` (snnTorch's raises ``Unknown node type``,
  Norse's maps it to None: one is silently skipped, two fail with a ``KeyError``), so the chain
  is cut at every Threshold (the second half of a max-pool of spikes) into graphs that the
  importer loads one by one; the adapter applies the thresholds between them. Both importers run
  a batch ``[B, ...]`` through modules built from unbatched NIR types, so each ``Flatten``'s dims
  are moved past the batch axis there.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from typing import Any

import nir
import numpy as np

from spyx_core import nir as snir


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
    """A fresh, type-checked graph (``#rebuilt-graph``): ``nodes``, ``graph``'s edges and metadata,
    plus ``meta``."""
    metadata = {**(graph.metadata or {}), **meta}
    return nir.NIRGraph(nodes=nodes, edges=list(edges or graph.edges), metadata=metadata)


BATCHED_SIZES = (2, 4)
"""Entries of an Input/Output type that carries a batch axis: the canonical networks' samples are
``(C,)`` or ``(C, H, W)``, so ``[B, C]`` and ``[B, C, H, W]`` are batched (``#no-batch-axis``)."""


def _unbatched(node: nir.NIRNode) -> nir.NIRNode:
    """Input/Output with a leading batch entry dropped (``#no-batch-axis``: ``[1, C]`` -> ``[C]``,
    ``[1, C, H, W]`` -> ``[C, H, W]``)."""
    is_input = isinstance(node, nir.Input)
    shape = np.asarray(node.input_type["input"] if is_input else node.output_type["output"])
    shape = shape[1:] if shape.size in BATCHED_SIZES else shape
    return nir.Input(shape) if is_input else nir.Output(shape)


def _neuron_shape(graph: nir.NIRGraph, name: str) -> tuple[int, ...]:
    """The shape of a neuron layer: the output type of the node before it when stated (a Conv2d's
    ``(C, H, W)``), else the width of that node's weight."""
    before = graph.nodes[_predecessor(graph, name)]
    stated = (before.output_type or {}).get("output")
    if stated is not None:
        return tuple(int(n) for n in np.asarray(stated))
    return (int(_array(before.weight).shape[0]),)


def _conv(node: nir.Conv2d) -> nir.Conv2d:
    """A Conv2d with float32 numpy weight and bias (snnTorch writes torch tensors)."""
    fields = ("input_shape", "stride", "padding", "dilation", "groups")
    kept = {f: getattr(node, f) for f in fields}
    return nir.Conv2d(weight=_array(node.weight), bias=_array(node.bias), **kept)


def _maxpool(graph: nir.NIRGraph, name: str) -> dict[str, nir.NIRNode]:
    """The canonical SumPool2d + Threshold pair of a max-pool that the exporter wrote as a pool node."""
    node = graph.nodes[name]
    kernel = np.unique(np.asarray(node.kernel_size))
    if kernel.size != 1:
        raise snir.NIRGraphError(name, f"max-pool kernel {node.kernel_size} is not square")
    shape = tuple(
        int(n) for n in np.asarray(graph.nodes[_predecessor(graph, name)].output_type["output"])
    )
    return snir.encode(snir.MaxPoolLayer(kernel_size=int(kernel[0])), shape, snir.DT)


def _spliced(
    edges: list[tuple[str, str]], name: str, parts: dict[str, nir.NIRNode]
) -> tuple[dict[str, nir.NIRNode], list[tuple[str, str]]]:
    """``parts`` (``snir.encode``'s, named as ``snir.to_nir`` does) put in node ``name``'s place."""
    names = [snir.part_name(name, suffix) for suffix in parts]
    edges = [(names[-1] if src == name else src, dst) for src, dst in edges]
    edges += list(itertools.pairwise(names))
    return dict(zip(names, parts.values(), strict=True)), edges


def _neuron(
    node: nir.NIRNode, shape: tuple[int, ...], *, tau_scale: float, reset: bool, li: bool
) -> nir.NIRNode:
    """A neuron node with float32 per-neuron fields (``#per-neuron-parameters``),
    ``tau`` rescaled (``#norse-time-constants``)."""

    def field(name: str, default: float = 0.0) -> np.ndarray:
        value = getattr(node, name, None)
        return np.broadcast_to(_array(default if value is None else value), shape).copy()

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
    maxpools: Iterable[str] = (),
    spec: Any = None,
) -> nir.NIRGraph:
    """The canonical graph of a graph exported by a third-party library (module docstring).

    Args:
        graph: as the exporter returned it.
        source: the exporting framework, recorded as metadata ``"source"``.
        dt: the time step the exported parameters are expressed in.
        tau_scale: factor on every ``tau`` (Norse 1.1.0: ``1 / dt``).
        readout: names of nodes that are LI readouts however the exporter wrote them.
        maxpools: names of pool nodes that stand for max-pools of spikes (an exporter with no
            max-pool writes the pool it has, e.g. AvgPool2d); each becomes ``name`` (SumPool2d)
            and ``name + ".threshold"`` (Threshold).
        spec: the ``ModelSpec`` the graph came from, recorded as metadata ``"spec"``.

    Returns:
        A type-checked graph whose LIF/IF nodes carry ``RESET_METADATA`` (the source adapters all
        implement the canonical subtractive delayed reset).
    """
    readout, maxpools, nodes = set(readout), set(maxpools), {}
    edges = list(graph.edges)
    for name, node in graph.nodes.items():
        if isinstance(node, nir.Input | nir.Output):
            nodes[name] = _unbatched(node)
        elif isinstance(node, nir.Affine):
            nodes[name] = nir.Affine(weight=_array(node.weight), bias=_array(node.bias))
        elif isinstance(node, nir.Linear):
            nodes[name] = nir.Linear(weight=_array(node.weight))
        elif isinstance(node, nir.Conv2d):
            nodes[name] = _conv(node)
        elif name in maxpools:
            parts, edges = _spliced(edges, name, _maxpool(graph, name))
            nodes.update(parts)
        elif isinstance(node, nir.LIF | nir.LI | nir.IF):
            is_li = name in readout
            shape = _neuron_shape(graph, name)
            nodes[name] = _neuron(node, shape, tau_scale=tau_scale, reset=not is_li, li=is_li)
        else:
            nodes[name] = node
    meta = {"source": source, "dt": dt}
    if spec is not None:
        meta["spec"] = json.dumps(spec.to_dict())
    return _rebuild(graph, nodes, edges, **meta)


def without_readout(graph: nir.NIRGraph) -> tuple[nir.NIRGraph, snir.Decoded | None]:
    """The graph with a final LI node cut out, and that node read back (None: there was none).

    The Output then follows the LI node's predecessor; the caller applies the readout
    ``u[t] = beta * u[t-1] + gain * y[t]`` outside the graph.
    """
    output = next(name for name, node in graph.nodes.items() if isinstance(node, nir.Output))
    last = _predecessor(graph, output)
    if not isinstance(graph.nodes[last], nir.LI):
        return graph, None
    readout = snir.decode(last, graph.nodes[last], float(graph.metadata.get("dt", snir.DT)))
    before = _predecessor(graph, last)
    nodes = {k: v for k, v in graph.nodes.items() if k != last}
    edges = [e for e in graph.edges if last not in e] + [(before, output)]
    nodes[output] = nir.Output(np.asarray(graph.nodes[before].output_type["output"]))
    return _rebuild(graph, nodes, edges), readout


def _fold_gain(graph: nir.NIRGraph, nodes: dict, name: str, gain: np.ndarray) -> None:
    """Multiplies the output rows of the Linear/Affine before ``name`` (the output channels of a
    Conv2d, when ``gain`` is the same across each channel's map) by ``gain`` (in ``nodes``)."""
    before = _predecessor(graph, name)
    node = nodes[before]
    if isinstance(node, nir.Conv2d):
        scale = snir.channel_gain(name, _array(gain))
        conv = _conv(node)
        conv.weight = conv.weight * scale.reshape(-1, 1, 1, 1)
        conv.bias = conv.bias * scale
        nodes[before] = conv
        return
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

    ``spyx_core.nir.DT`` is that step: spikebench writes its graphs at the one snnTorch imports.

    snnTorch's importer turns a gain ``r*dt/tau`` other than 1 into a threshold scale and keeps only
    the first distinct value, so per-neuron gains are folded into the weights before it instead;
    IF needs ``r = 1`` and a gain ``r*dt`` of 1, folded the same way.
    """
    dt, nodes = float(graph.metadata.get("dt", snir.DT)), dict(graph.nodes)
    for name, node in graph.nodes.items():
        if isinstance(node, nir.LIF | nir.LI):
            gain = snir.leaky_gain(_array(node.tau), _array(node.r), dt)
            if not np.allclose(gain, 1.0, rtol=1e-6, atol=0):
                _fold_gain(graph, nodes, name, gain)
            tau = (_array(node.tau).astype(np.float64) * (snir.DT / dt)).astype(np.float32)
            r = (tau.astype(np.float64) / snir.DT).astype(np.float32)
            nodes[name] = _with(node, tau=tau, r=r)
        elif isinstance(node, nir.IF):
            _fold_gain(graph, nodes, name, _array(node.r) * np.float32(dt))
            nodes[name] = _with(node, r=np.ones_like(_array(node.r)))
    return _rebuild(graph, nodes, dt=snir.DT)


def for_norse(graph: nir.NIRGraph) -> nir.NIRGraph:
    """The graph with ``r`` set to 1 (Norse ignores it) and its effect kept another way.

    Norse integrates ``dt/tau * x`` (LIF) or ``x`` (IF) where the canonical gain is ``r*dt/tau``
    or ``r*dt``. A LIF's membrane without ``r`` is the canonical one divided by ``r`` (the
    dynamics are linear between spikes, the reset included), so its threshold is divided by ``r``:
    exact per neuron, after a Linear or a Conv2d alike. An LI's output is its membrane, and an IF
    (``IAFCell``) has no ``tau``, so their gain is folded into the weights before them instead.

    Raises:
        NIRGraphError: a LIF with ``r <= 0``, or a gain a Conv2d before an LI/IF cannot take.
    """
    dt, nodes = float(graph.metadata.get("dt", snir.DT)), dict(graph.nodes)
    for name, node in graph.nodes.items():
        if not isinstance(node, nir.LIF | nir.LI | nir.IF):
            continue
        r = _array(node.r)
        if isinstance(node, nir.LIF):
            if np.any(r <= 0):
                raise snir.NIRGraphError(name, "r must be positive to move it into the threshold")
            nodes[name] = _with(node, r=np.ones_like(r), v_threshold=_array(node.v_threshold) / r)
            continue
        _fold_gain(graph, nodes, name, r * (np.float32(dt) if isinstance(node, nir.IF) else 1))
        nodes[name] = _with(node, r=np.ones_like(r))
    return _rebuild(graph, nodes)


def _batched_flatten(node: nir.Flatten) -> nir.Flatten:
    """A Flatten whose non-negative dims are moved past the batch axis that torch modules see."""
    start, end = (d + 1 if d >= 0 else d for d in (int(node.start_dim), int(node.end_dim)))
    return nir.Flatten(input_type=None, start_dim=start, end_dim=end, metadata=dict(node.metadata))


def segments(graph: nir.NIRGraph) -> tuple[list[nir.NIRGraph], list[nir.Threshold]]:
    """The chain cut at its Threshold nodes, for a torch importer that maps none (module docstring).

    Returns:
        ``(graphs, thresholds)``: ``len(thresholds) + 1`` graphs, each ``input -> ... -> output``
        with the original node names and ``Flatten`` dims moved past the batch axis (so they are
        built without type checks: NIR's types are unbatched); the run applies ``thresholds[i]``
        between ``graphs[i]`` and ``graphs[i + 1]``.
    """
    order = snir.chain(graph)
    parts: list[list[str]] = [[]]
    thresholds = []
    for name in order[1:-1]:
        if isinstance(graph.nodes[name], nir.Threshold):
            thresholds.append(graph.nodes[name])
            parts.append([])
        else:
            parts[-1].append(name)
    shape = np.asarray(graph.nodes[order[0]].input_type["input"])
    graphs = []
    for index, names in enumerate(parts):
        if index < len(thresholds):
            out = np.asarray(thresholds[index].input_type["input"])
        else:
            out = np.asarray(graph.nodes[order[-1]].output_type["output"])
        nodes = {"input": nir.Input(shape), "output": nir.Output(out)}
        for name in names:
            node = graph.nodes[name]
            nodes[name] = _batched_flatten(node) if isinstance(node, nir.Flatten) else node
        edges = list(itertools.pairwise(["input", *names, "output"]))
        graphs.append(nir.NIRGraph(nodes=nodes, edges=edges, metadata=graph.metadata, type_check=False))
        shape = out
    return graphs, thresholds
