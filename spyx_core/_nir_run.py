"""Running a ``Network`` read from NIR with spyx_core's own Haiku cores, every layer's output kept."""

from __future__ import annotations

import haiku as hk
import jax
import numpy as np

from spyx_core._conv import Conv2D, max_pool2d
from spyx_core._neurons import IF, LI, LIF, SpikeFn
from spyx_core._nir_graph import Network
from spyx_core._nir_layers import (
    ConvLayer,
    FlattenLayer,
    IFLayer,
    Layer,
    LIFLayer,
    LILayer,
    LinearLayer,
    MaxPoolLayer,
)
from spyx_core._sequential import run_sequential


def _name(index: int) -> str:
    return f"layer_{index}"


def _module(index: int, layer: Layer, spike_fn: SpikeFn | None):
    """The module of one layer: the same cores and stateless layers as the spyx_core adapter's."""
    name = _name(index)
    if isinstance(layer, LinearLayer):
        return hk.Linear(layer.weight.shape[1], with_bias=False, name=name)
    if isinstance(layer, ConvLayer):  # channel-first, kernel [O, C, k, k]
        return Conv2D(layer.weight.shape[0], layer.weight.shape[-1], name=name)
    if isinstance(layer, MaxPoolLayer):
        return max_pool2d(layer.kernel_size)
    if isinstance(layer, FlattenLayer):  # [N, C, H, W] -> [N, C * H * W], channel-first order
        return hk.Flatten(name=name)
    if isinstance(layer, LIFLayer):
        return LIF(layer.shape, theta=layer.theta, spike_fn=spike_fn, name=name)
    if isinstance(layer, LILayer):
        return LI(layer.shape, name=name)
    if isinstance(layer, IFLayer):
        return IF(layer.shape, theta=layer.theta, spike_fn=spike_fn, name=name)
    raise TypeError(f"no spyx_core module for {type(layer).__name__}")


def haiku_params(network: Network) -> hk.Params:
    """The network's parameters as Haiku params (``{"layer_0": {"w": [in, out]}, ...}``; a conv's
    ``w`` is ``[O, C, k, k]``)."""
    params: dict[str, dict[str, np.ndarray]] = {}
    for index, layer in enumerate(network.layers):
        if isinstance(layer, LinearLayer | ConvLayer):
            params[_name(index)] = {"w": layer.weight}
        elif isinstance(layer, LIFLayer | LILayer):
            params[_name(index)] = {"beta": layer.beta}
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
            x = run_sequential([_module(index, layer, spike_fn)], x)
            outputs.append(x)
        return tuple(outputs)

    return hk.without_apply_rng(hk.transform(forward))


def run(network: Network, x: np.ndarray) -> list[np.ndarray]:
    """Every layer's output ``[T, B, ...]`` for a time-major input ``x`` ``[T, B, *input_shape]``."""
    model = transform(network)
    with jax.default_matmul_precision("highest"):  # full float32 matmuls, as the adapters
        outputs = jax.jit(model.apply)(haiku_params(network), np.asarray(x, np.float32))
    return [np.asarray(out) for out in outputs]
