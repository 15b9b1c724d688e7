"""Running a ``Network`` read from NIR with spyx_core's own Haiku cores, every layer's output kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import haiku as hk
import jax
import numpy as np

from spyx_core._conv import Conv2D
from spyx_core._neurons import IF, LI, LIF, SpikeFn
from spyx_core._pool import max_pool2d
from spyx_core._sequential import run_sequential
from spyx_core.nir._graph import Network
from spyx_core.nir._layers import (
    ConvLayer,
    FlattenLayer,
    IFLayer,
    Layer,
    LIFLayer,
    LILayer,
    LinearLayer,
    MaxPoolLayer,
)


def _name(index: int) -> str:
    return f"layer_{index}"


ModuleFn = Callable[[jax.Array], jax.Array]


class HaikuLayer(NamedTuple):
    """How one kind of layer record runs in Haiku.

    Attributes:
        module: ``(record, name, spike_fn) -> module``; the same cores and stateless layers as the
            spyx_core adapter's.
        params: the record's Haiku parameters (``{"w": ...}`` or ``{"beta": ...}``); None: it has none.
    """

    module: Callable[[Any, str, SpikeFn | None], ModuleFn]
    params: Callable[[Any], dict[str, np.ndarray]] | None = None


def _weight(layer: LinearLayer | ConvLayer) -> dict[str, np.ndarray]:
    return {"w": layer.weight}


def _beta(layer: LIFLayer | LILayer) -> dict[str, np.ndarray]:
    return {"beta": layer.beta}


def _linear(layer: LinearLayer, name: str, spike_fn: SpikeFn | None) -> ModuleFn:
    return hk.Linear(layer.weight.shape[1], with_bias=False, name=name)


def _conv(layer: ConvLayer, name: str, spike_fn: SpikeFn | None) -> ModuleFn:
    return Conv2D(layer.weight.shape[0], layer.weight.shape[-1], name=name)  # kernel [O, C, k, k]


def _maxpool(layer: MaxPoolLayer, name: str, spike_fn: SpikeFn | None) -> ModuleFn:
    return max_pool2d(layer.kernel_size)


def _flatten(layer: FlattenLayer, name: str, spike_fn: SpikeFn | None) -> ModuleFn:
    return hk.Flatten(name=name)  # [N, C, H, W] -> [N, C * H * W], channel-first order


def _lif(layer: LIFLayer, name: str, spike_fn: SpikeFn | None) -> ModuleFn:
    return LIF(layer.shape, theta=layer.theta, spike_fn=spike_fn, name=name)


def _li(layer: LILayer, name: str, spike_fn: SpikeFn | None) -> ModuleFn:
    return LI(layer.shape, name=name)


def _if(layer: IFLayer, name: str, spike_fn: SpikeFn | None) -> ModuleFn:
    return IF(layer.shape, theta=layer.theta, spike_fn=spike_fn, name=name)


HAIKU: dict[type, HaikuLayer] = {
    LinearLayer: HaikuLayer(_linear, _weight),
    ConvLayer: HaikuLayer(_conv, _weight),
    MaxPoolLayer: HaikuLayer(_maxpool),
    FlattenLayer: HaikuLayer(_flatten),
    LIFLayer: HaikuLayer(_lif, _beta),
    LILayer: HaikuLayer(_li, _beta),
    IFLayer: HaikuLayer(_if),
}
"""Layer record type -> its Haiku module and parameters: a new record kind is one entry."""


def _haiku(layer: Layer) -> HaikuLayer:
    if type(layer) not in HAIKU:
        raise TypeError(f"no spyx_core module for {type(layer).__name__}")
    return HAIKU[type(layer)]


def haiku_params(network: Network) -> hk.Params:
    """The network's parameters as Haiku params (``{"layer_0": {"w": [in, out]}, ...}``; a conv's
    ``w`` is ``[O, C, k, k]``)."""
    params = {}
    for index, layer in enumerate(network.layers):
        of = _haiku(layer).params
        if of is not None:
            params[_name(index)] = of(layer)
    return params


def transform(network: Network, *, spike_fn: SpikeFn | None = None) -> hk.Transformed:
    """The network as a Haiku transform that returns every layer's output.

    ``apply(haiku_params(network), x)`` maps ``x`` ``[T, B, *input_shape]`` to a tuple with one
    ``[T, B, ...]`` array per layer (spikes of LIF/IF layers, the membrane of an LI readout);
    LIF parameters on feature maps keep their ``(C, H, W)`` shape.

    Args:
        network: as read by ``from_nir``.
        spike_fn: the spike function of LIF/IF layers (default: spyx_core's, Heaviside forward).
    """

    def forward(x: jax.Array) -> tuple[jax.Array, ...]:
        outputs = []
        for index, layer in enumerate(network.layers):
            x = run_sequential([_haiku(layer).module(layer, _name(index), spike_fn)], x)
            outputs.append(x)
        return tuple(outputs)

    return hk.without_apply_rng(hk.transform(forward))


def run(network: Network, x: np.ndarray) -> list[np.ndarray]:
    """Every layer's output ``[T, B, ...]`` for a time-major input ``x`` ``[T, B, *input_shape]``."""
    model = transform(network)
    with jax.default_matmul_precision("highest"):  # full float32 matmuls, as the adapters
        outputs = jax.jit(model.apply)(haiku_params(network), np.asarray(x, np.float32))
    return [np.asarray(out) for out in outputs]
