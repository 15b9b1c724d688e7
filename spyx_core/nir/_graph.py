"""``to_nir`` and ``from_nir``: a feed-forward spyx_core network as a NIR graph, and back.

The graph is a chain ``input -> "0" -> "1" -> ... -> output`` whose node names are the layer
indices, with unbatched Input/Output types, float32 per-neuron parameters and the time step stated
in the graph metadata as ``"dt"`` (the parameter mapping: ``spyx_core.nir._params``). A layer that
takes several nodes (a max-pool: ``"2"`` and ``"2.threshold"``, see ``spyx_core.nir._layers``)
names the first by its index and the others ``"<index>.<suffix>"``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import nir
import numpy as np

from spyx_core.nir._errors import NIRGraphError
from spyx_core.nir._layers import (
    ConvLayer,
    Layer,
    LinearLayer,
    Named,
    Shape,
    channel_gain,
    decode_group,
    encode,
    layer_groups,
    part_name,
)
from spyx_core.nir._params import DT


@dataclass(frozen=True, kw_only=True, eq=False)
class Network:
    """A feed-forward spyx_core network in plain arrays.

    Attributes:
        layers: input first (``LinearLayer``, ``ConvLayer``, ``MaxPoolLayer``, ``FlattenLayer``,
            ``LIFLayer``, ``LILayer``, ``IFLayer``).
        input_shape: of one sample at one time step, e.g. ``(C,)`` or ``(C, H, W)``.
        dt: the time step that the NIR parameters are expressed in.
    """

    layers: tuple[Layer, ...]
    input_shape: Shape
    dt: float = DT

    def __post_init__(self) -> None:
        self.shapes()  # raises on a layer that does not fit its input

    def shapes(self) -> list[Shape]:
        """The output shape of every layer.

        Raises:
            NIRGraphError: a layer does not accept the previous layer's output (named by index).
        """
        shape, shapes = tuple(self.input_shape), []
        for index, layer in enumerate(self.layers):
            out = layer.output_shape(shape)
            if out is None:
                raise NIRGraphError(str(index), f"{type(layer).__name__} cannot take input {shape}")
            shapes.append(shape := out)
        return shapes


def to_nir(network: Network, *, metadata: Mapping[str, Any] | None = None) -> nir.NIRGraph:
    """The NIR graph of ``network``: one node per layer (two for a max-pool), named by its index.

    Args:
        network: the layers and their parameters.
        metadata: extra graph metadata (``"dt"`` is always set from ``network.dt``).

    Returns:
        A type-checked ``nir.NIRGraph``.
    """
    shapes = network.shapes()
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(np.array(network.input_shape))}
    names, inputs = [], [tuple(network.input_shape), *shapes][: len(network.layers)]
    for index, (layer, shape) in enumerate(zip(network.layers, inputs, strict=True)):
        for suffix, node in encode(layer, shape, network.dt).items():
            names.append(part_name(str(index), suffix))
            nodes[names[-1]] = node
    nodes["output"] = nir.Output(np.array(shapes[-1] if shapes else network.input_shape))
    edges = list(itertools.pairwise(["input", *names, "output"]))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={**(metadata or {}), "dt": network.dt})


def _edges(graph: nir.NIRGraph) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    succ: dict[str, list[str]] = {name: [] for name in graph.nodes}
    pred: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for src, dst in graph.edges:
        for end in (src, dst):
            if end not in graph.nodes:
                raise NIRGraphError(end, f"edge ({src!r}, {dst!r}) names a node that does not exist")
        succ[src].append(dst)
        pred[dst].append(src)
    return succ, pred


def _one(graph: nir.NIRGraph, kind: type) -> str:
    found = [name for name, node in graph.nodes.items() if isinstance(node, kind)]
    if len(found) != 1:
        raise NIRGraphError(None, f"the graph needs exactly one {kind.__name__} node, has {found}")
    return found[0]


def chain(graph: nir.NIRGraph) -> list[str]:
    """The node names from Input to Output of a graph that is one feed-forward chain.

    Raises:
        NIRGraphError: a missing or dangling edge, a fork, a join, a cycle or a detached node.
    """
    succ, pred = _edges(graph)
    start, end = _one(graph, nir.Input), _one(graph, nir.Output)
    for name in graph.nodes:
        if len(succ[name]) > 1:
            raise NIRGraphError(name, f"has several outgoing edges {succ[name]}; expected a chain")
        if len(pred[name]) > 1:
            raise NIRGraphError(name, f"has several incoming edges {pred[name]}; expected a chain")
    order = [start]
    while order[-1] != end:
        current = order[-1]
        if not succ[current]:
            kind = type(graph.nodes[current]).__name__
            raise NIRGraphError(current, f"{kind} has no outgoing edge (is an edge missing?)")
        if succ[current][0] in order:
            raise NIRGraphError(current, "its edge closes a cycle; expected a feed-forward chain")
        order.append(succ[current][0])
    detached = sorted(set(graph.nodes) - set(order))
    if detached:
        raise NIRGraphError(detached[0], "is not on the input-output path (is an edge missing?)")
    return order


def _io_shape(graph: nir.NIRGraph, name: str, key: str) -> Shape:
    node = graph.nodes[name]
    types = node.input_type if key == "input" else node.output_type
    shape = np.asarray(types[key])
    if not np.all(np.isfinite(shape.astype(np.float64))):
        raise NIRGraphError(name, f"{key} type {shape} is not a shape")
    return tuple(int(n) for n in shape)


def _fold(layers: list[Layer], gain: np.ndarray, name: str) -> None:
    """Multiplies the previous Linear's output columns (a Conv2d's output channels) by ``gain``:
    exact for a feed-forward net."""
    if layers and isinstance(layers[-1], LinearLayer):
        weight = layers[-1].weight
        layers[-1] = LinearLayer(weight=(weight * gain.reshape(1, -1)).astype(np.float32))
    elif layers and isinstance(layers[-1], ConvLayer):
        weight = layers[-1].weight
        scale = channel_gain(name, gain).reshape(-1, 1, 1, 1)
        layers[-1] = ConvLayer(weight=(weight * scale).astype(np.float32))
    else:
        raise NIRGraphError(name, "input gain r*dt/tau is not 1 and no Linear or Conv2d precedes it")


def _declared(node: nir.NIRNode, key: str) -> Shape | None:
    """The shape a node's own input (``key="input"``) or output type states; None when undefined."""
    types = (node.input_type if key == "input" else node.output_type) or {}
    value = types.get(key)
    if value is None:
        return None
    shape = np.asarray(value)
    if shape.dtype == object or not np.all(np.isfinite(shape.astype(np.float64))):
        return None
    return tuple(int(n) for n in shape.ravel())


def _check_types(group: tuple[Named, ...], shape: Shape, out: Shape) -> None:
    """A group's stated input and output types (where defined) against the shapes that flow."""
    for (name, node), key, flows in ((group[0], "input", shape), (group[-1], "output", out)):
        stated = _declared(node, key)
        if stated is not None and stated != tuple(flows):
            kind = type(node).__name__
            raise NIRGraphError(name, f"{kind} states {key} type {stated}, but the chain gives {flows}")


def layer_names(graph: nir.NIRGraph) -> list[tuple[str, ...]]:
    """The names of the nodes of each layer of a chain graph, in order (Input and Output excluded).

    Raises:
        NIRGraphError: the graph is not a chain, or a max-pool pair is broken (names the node).
    """
    inner = [(name, graph.nodes[name]) for name in chain(graph)[1:-1]]
    return [tuple(name for name, _ in group) for group in layer_groups(inner)]


def _graph_dt(graph: nir.NIRGraph, dt: float | None) -> float:
    if dt is not None:
        return float(dt)
    if "dt" not in (graph.metadata or {}):
        raise NIRGraphError(None, "the graph states no time step (metadata 'dt'); pass dt=")
    return float(graph.metadata["dt"])


def from_nir(graph: nir.NIRGraph, *, dt: float | None = None) -> Network:
    """The spyx_core network that a NIR graph describes (inverse of ``to_nir``).

    Args:
        graph: a feed-forward chain of Linear/Affine, Conv2d, Flatten, LIF, LI and IF nodes and
            marked SumPool2d + Threshold max-pool pairs.
        dt: the time step; by default the graph metadata's ``"dt"``.

    Returns:
        The network; an input gain ``r * dt / tau`` other than 1 is folded into the weights (of
        a Conv2d only when it is the same across each channel's map).

    Raises:
        NIRGraphError: the graph is malformed or outside spyx_core (the message names the node).
    """
    step = _graph_dt(graph, dt)
    order = chain(graph)
    shape = _io_shape(graph, order[0], "input")
    input_shape, layers = shape, []
    for group in layer_groups([(name, graph.nodes[name]) for name in order[1:-1]]):
        name = group[0][0]
        layer, gain = decode_group(group, step)
        out = layer.output_shape(shape)
        if out is None:
            kind = type(graph.nodes[name]).__name__
            raise NIRGraphError(name, f"{kind} cannot take input of shape {shape}")
        _check_types(group, shape, out)
        if gain is not None and not np.allclose(gain, 1.0, rtol=1e-6, atol=0):
            _fold(layers, gain, name)
        layers.append(layer)
        shape = out
    if _io_shape(graph, order[-1], "output") != shape:
        raise NIRGraphError(order[-1], f"output type does not match the last layer's {shape}")
    return Network(layers=tuple(layers), input_shape=input_shape, dt=step)
