"""The layers a canonical network is made of, and the shapes they produce.

Layers are time-distributed: a stateless layer (Linear, Conv2d, MaxPool2d, Flatten) acts on every
time step alike; a neuron layer carries state from step to step. Shapes exclude batch and time and
are channel-first (``(C, H, W)``), as the N-MNIST frames are stored. A neuron layer's ``size`` is its
shape: an int for a vector of neurons, a tuple for a feature map (per-neuron parameters have it).
"""

from __future__ import annotations

from dataclasses import dataclass

Shape = tuple[int, ...]


@dataclass(frozen=True, kw_only=True)
class Conv2d:
    """``I[t] = conv(x[t], W)``: stride 1, no padding ("valid"), no bias; ``W`` is ``[O, C, k, k]``."""

    in_channels: int
    out_channels: int
    kernel_size: int = 5


@dataclass(frozen=True, kw_only=True)
class MaxPool2d:
    """Non-overlapping ``k x k`` max pooling (stride ``k``, remainders dropped)."""

    kernel_size: int = 2


@dataclass(frozen=True, kw_only=True)
class Flatten:
    """``(C, H, W) -> (C * H * W,)`` in channel-first (C, H, W) order, as ``torch.flatten``."""


@dataclass(frozen=True, kw_only=True)
class Linear:
    """``I[t] = x[t] @ W`` with ``W`` of shape ``[n_in, n_out]``; no bias."""

    n_in: int
    n_out: int


@dataclass(frozen=True, kw_only=True)
class LIF:
    """A layer of ``size`` LIF neurons (``frameworks.spec``); initial beta ``beta_init``, or
    TruncNormal(0.5, 0.25) when None."""

    size: int | Shape
    beta_init: float | None = None


@dataclass(frozen=True, kw_only=True)
class LI:
    """A leaky-integrator readout of ``size`` neurons; initial beta ``beta_init`` (default 0.8)."""

    size: int | Shape
    beta_init: float = 0.8


@dataclass(frozen=True, kw_only=True)
class IF:
    """A layer of ``size`` integrate-and-fire neurons (LIF with ``beta = 1``); no parameters."""

    size: int | Shape


@dataclass(frozen=True, kw_only=True)
class CuBaLIF:
    """A layer of ``size`` current-based LIF neurons; initial alpha, beta ~ TruncNormal(0.5, 0.25)."""

    size: int


@dataclass(frozen=True, kw_only=True)
class ALIF:
    """``size`` adaptive-threshold LIF neurons; initial beta ~ TruncNormal(0.5, 0.25), gamma 0.9.

    ``adaptation``: how far one spike raises the threshold.
    """

    size: int
    adaptation: float = 1.0


@dataclass(frozen=True, kw_only=True)
class RLIF:
    """``size`` recurrent LIF neurons; beta as LIF, ``W_rec`` ~ TruncNormal(0, 1 / sqrt(size))."""

    size: int


@dataclass(frozen=True, kw_only=True)
class RIF:
    """``size`` recurrent integrate-and-fire neurons; ``W_rec`` as RLIF."""

    size: int


STATELESS = (Linear, Conv2d, MaxPool2d, Flatten)
NEURONS = (LIF, LI, IF, CuBaLIF, ALIF, RLIF, RIF)
Layer = Linear | Conv2d | MaxPool2d | Flatten | LIF | LI | IF | CuBaLIF | ALIF | RLIF | RIF
LAYER_TYPES: dict[str, type] = {t.__name__: t for t in (*STATELESS, *NEURONS)}
"""Layer name -> class; ``ModelSpec.from_dict`` reads layers through it."""
NEURON_TYPES: tuple[str, ...] = ("LIF", "IF", "CuBaLIF", "ALIF", "RLIF", "RIF")
"""The spiking neuron layers a hidden layer may be (``shd_spec(neuron=...)``)."""
DECAYS: tuple[str, ...] = ("alpha", "beta", "gamma")
"""Parameter names of decays: trained only when ``train_beta`` is set."""


def neuron_shape(layer: Layer) -> Shape:
    """A neuron layer's shape (``size`` as a tuple)."""
    return (layer.size,) if isinstance(layer.size, int) else tuple(layer.size)


def output_shape(layer: Layer, shape: Shape, index: int = 0) -> Shape:
    """The shape ``layer`` produces from ``shape``.

    Raises:
        ValueError: the layer cannot take that shape (the message names layer ``index``).
    """

    def bad(expected: str) -> ValueError:
        return ValueError(f"layer {index} ({layer}) expects {expected}, gets shape {shape}")

    if isinstance(layer, Linear):
        if shape != (layer.n_in,):
            raise bad(f"({layer.n_in},)")
        return (layer.n_out,)
    if isinstance(layer, Conv2d):
        if len(shape) != 3 or shape[0] != layer.in_channels or min(shape[1:]) < layer.kernel_size:
            raise bad(f"({layer.in_channels}, H, W) with H, W >= {layer.kernel_size}")
        k = layer.kernel_size - 1
        return (layer.out_channels, shape[1] - k, shape[2] - k)
    if isinstance(layer, MaxPool2d):
        if len(shape) != 3 or min(shape[1:]) < layer.kernel_size:
            raise bad(f"(C, H, W) with H, W >= {layer.kernel_size}")
        k = layer.kernel_size
        return (shape[0], shape[1] // k, shape[2] // k)
    if isinstance(layer, Flatten):
        size = 1
        for dim in shape:
            size *= dim
        return (size,)
    if neuron_shape(layer) != shape:
        raise bad(f"shape {neuron_shape(layer)}")
    if min(shape) < 1:
        raise ValueError(f"layer {index} ({layer}) needs at least one neuron")
    return shape


def layer_shapes(layers: tuple[Layer, ...], input_shape: Shape) -> list[Shape]:
    """The output shape of every layer, checking that each fits the one before (ValueError)."""
    shapes, shape = [], tuple(input_shape)
    for index, layer in enumerate(layers):
        shape = output_shape(layer, shape, index)
        shapes.append(shape)
    return shapes
