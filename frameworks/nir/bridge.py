"""The canonical model (``frameworks.spec``) as a NIR graph, and back.

``graph_from_spec(spec, weights)`` writes the canonical network through ``spyx_core.nir`` (the one
place where discrete and continuous parameters are mapped) and records, in the graph metadata, the
time step ``"dt"``, the exporting ``"source"`` framework and the ``"spec"`` (JSON), so that a reader
can rebuild the exact ``ModelSpec``. ``spec_from_graph(graph)`` is the inverse. Weights keep the
spec's names and layouts (``"0.weight"``: Linear ``[n_in, n_out]``, Conv2d ``[O, C, k, k]``;
``"1.beta"``: the layer's shape, ``(C, H, W)`` on a feature map). Spec layers with no NIR mapping
yet (CuBaLIF, ALIF, RLIF, RIF) raise ``Unsupported``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any

import nir
import numpy as np

from frameworks.adapter import Unsupported
from frameworks.spec import (
    IF,
    LI,
    LIF,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    ModelSpec,
    neuron_shape,
)
from spyx_core import nir as snir

Param = Callable[[str], np.ndarray]
"""A spec layer's canonical parameter by name suffix (``"weight"``, ``"beta"``), as float32."""

_RECORDS: dict[type, Callable[[Any, ModelSpec, Param], snir.Layer]] = {
    Linear: lambda layer, spec, param: snir.LinearLayer(weight=param("weight")),
    Conv2d: lambda layer, spec, param: snir.ConvLayer(weight=param("weight")),
    MaxPool2d: lambda layer, spec, param: snir.MaxPoolLayer(kernel_size=layer.kernel_size),
    Flatten: lambda layer, spec, param: snir.FlattenLayer(),
    LIF: lambda layer, spec, param: snir.LIFLayer(beta=param("beta"), theta=spec.theta),
    LI: lambda layer, spec, param: snir.LILayer(beta=param("beta")),
    IF: lambda layer, spec, param: snir.IFLayer(shape=neuron_shape(layer), theta=spec.theta),
}
"""Spec layer type -> its ``spyx_core.nir`` record; a spec layer not listed has no NIR mapping yet."""


def _size(layer: snir.Layer) -> int | tuple[int, ...]:
    shape = tuple(int(n) for n in layer.shape)
    return shape[0] if len(shape) == 1 else shape


def _conv_layer(layer: snir.ConvLayer) -> Conv2d:
    out, channels, k, _ = layer.weight.shape
    return Conv2d(in_channels=channels, out_channels=out, kernel_size=k)


_SPEC_LAYERS: dict[type, Callable[[Any], Any]] = {
    snir.LinearLayer: lambda layer: Linear(n_in=layer.weight.shape[0], n_out=layer.weight.shape[1]),
    snir.ConvLayer: _conv_layer,
    snir.MaxPoolLayer: lambda layer: MaxPool2d(kernel_size=layer.kernel_size),
    snir.FlattenLayer: lambda layer: Flatten(),
    snir.LIFLayer: lambda layer: LIF(size=_size(layer)),
    snir.LILayer: lambda layer: LI(size=_size(layer)),
    snir.IFLayer: lambda layer: IF(size=_size(layer)),
}
"""``spyx_core.nir`` record type -> its spec layer (the inverse of ``_RECORDS``)."""

_WEIGHTS: dict[type, str] = {
    snir.LinearLayer: "weight",
    snir.ConvLayer: "weight",
    snir.LIFLayer: "beta",
    snir.LILayer: "beta",
}
"""Record type -> its field holding the canonical parameter of that name (``"<i>.weight"``)."""


def _layer(index: int, layer: Any, spec: ModelSpec, weights: dict[str, np.ndarray]) -> snir.Layer:
    if type(layer) not in _RECORDS:
        kind = type(layer).__name__
        raise Unsupported(f"layer {index} is a {kind}, which has no NIR mapping yet")
    return _RECORDS[type(layer)](
        layer, spec, lambda name: np.asarray(weights[f"{index}.{name}"], np.float32)
    )


def network_from_spec(
    spec: ModelSpec, weights: dict[str, np.ndarray], *, dt: float = snir.DT
) -> snir.Network:
    """The canonical network as a ``spyx_core.nir.Network`` (weights in the canonical layout).

    Raises:
        Unsupported: a spec layer that NIR export does not cover yet.
    """
    layers = tuple(_layer(i, layer, spec, weights) for i, layer in enumerate(spec.layers))
    return snir.Network(layers=layers, input_shape=spec.input_shape, dt=dt)


def graph_from_spec(
    spec: ModelSpec, weights: dict[str, np.ndarray], *, source: str = "spyx_core", dt: float = snir.DT
) -> nir.NIRGraph:
    """The canonical NIR graph of ``spec`` with ``weights``; metadata names ``source``."""
    meta = {"source": source, "spec": json.dumps(spec.to_dict())}
    return snir.to_nir(network_from_spec(spec, weights, dt=dt), metadata=meta)


def _with_init(layer: Any, base: Any) -> Any:
    """``base``'s layer where it is ``layer`` up to initialisation-only fields (``beta_init``), which
    NIR does not carry; otherwise ``layer``."""
    if type(base) is not type(layer) or not hasattr(layer, "beta_init"):
        return layer
    return base if dataclasses.replace(layer, beta_init=base.beta_init) == base else layer


def _weights(network: snir.Network) -> dict[str, np.ndarray]:
    return {
        f"{i}.{_WEIGHTS[type(layer)]}": getattr(layer, _WEIGHTS[type(layer)])
        for i, layer in enumerate(network.layers)
        if type(layer) in _WEIGHTS
    }


def _theta(network: snir.Network) -> float:
    spiking = (layer for layer in network.layers if isinstance(layer, snir.LIFLayer | snir.IFLayer))
    thetas = {layer.theta for layer in spiking}
    if len(thetas) > 1:
        raise snir.NIRGraphError(None, f"layers have thresholds {sorted(thetas)}; a spec has one")
    return thetas.pop() if thetas else 1.0


def spec_from_network(
    network: snir.Network, *, base: ModelSpec | None = None, time_steps: int = 100
) -> tuple[ModelSpec, dict[str, np.ndarray]]:
    """The ``ModelSpec`` and canonical weights of a network read from NIR.

    Args:
        network: as ``spyx_core.nir.from_nir`` returns it.
        base: a spec whose non-structural fields (task, training rule, ``time_steps``) to keep.
        time_steps: ``T`` when there is no ``base``.

    Raises:
        NIRGraphError: the network does not fit a spec (e.g. two thresholds, no LI readout).
    """
    layers = tuple(_SPEC_LAYERS[type(layer)](layer) for layer in network.layers)
    if base is not None and len(base.layers) == len(layers):
        layers = tuple(_with_init(layer, old) for layer, old in zip(layers, base.layers, strict=True))
    fields = base.to_dict() if base is not None else {"task": "nir", "time_steps": time_steps}
    fields.pop("layers", None)
    fields["theta"] = _theta(network)
    fields["input_shape"] = tuple(int(n) for n in network.input_shape)
    try:
        spec = ModelSpec(layers=layers, **fields)
    except ValueError as error:
        raise snir.NIRGraphError(None, f"the graph is not a spikebench network: {error}") from None
    return spec, _weights(network)


def spec_from_graph(graph: nir.NIRGraph) -> tuple[ModelSpec, dict[str, np.ndarray]]:
    """The ``ModelSpec`` and canonical weights a graph holds (its ``"spec"`` metadata, if any).

    Raises:
        NIRGraphError: the graph is malformed or not a spikebench network (names the node).
    """
    base = None
    if "spec" in (graph.metadata or {}):
        try:
            base = ModelSpec.from_dict(json.loads(str(graph.metadata["spec"])))
        except (ValueError, TypeError, KeyError) as error:
            raise snir.NIRGraphError(None, f"its 'spec' metadata is unreadable: {error}") from None
    return spec_from_network(snir.from_nir(graph), base=base)


def source_of(graph: nir.NIRGraph) -> str | None:
    """The framework that exported ``graph`` (metadata ``"source"``), None when unstated."""
    source = (graph.metadata or {}).get("source")
    return None if source is None else str(source)
