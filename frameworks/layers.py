"""The layers a canonical network is made of: their shapes and initial weights, one class each.

Layers are time-distributed: a stateless layer (Linear, Conv2d, MaxPool2d, Flatten) acts on every
time step alike; a neuron layer carries state from step to step. Shapes exclude batch and time and
are channel-first (``(C, H, W)``), as the N-MNIST frames are stored. A neuron layer's ``size`` is its
shape: an int for a vector of neurons, a tuple for a feature map (per-neuron parameters have it).

Each layer class says what it does to a shape (``output_shape``) and how its parameters start
(``initial_weights``); adapters map layer classes to their own modules through one table each
(``frameworks.torch_base.STATELESS_MODULES``, ``frameworks.jax_base.STATELESS_MODULES``, each
adapter's neuron table). A new layer kind is one subclass of ``StatelessLayer`` or ``NeuronLayer``
(registered by name in ``LAYER_TYPES`` as it is defined) plus one entry in each table that should
build it; ``docs/adding-a-framework.md`` shows one.

Initial weights follow Haiku's defaults (TruncNormal cut at two standard deviations): Linear and
Conv2d ``TruncNormal(0, 1 / sqrt(fan_in))``, decays ``TruncNormal(0.5, 0.25)``; a layer draws its
parameters in the order its ``initial_weights`` lists them, which fixes the values for a seed.
``frameworks.spec.init_weights`` then scales Linear and Conv2d weights by the spec's
``weight_gain`` (docs/initialisation.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

Shape = tuple[int, ...]

LAYER_TYPES: dict[str, type[Layer]] = {}
"""Layer name -> class, filled as layer classes are defined; ``ModelSpec.from_dict`` reads it."""

DECAYS: tuple[str, ...] = ("alpha", "beta", "gamma")
"""Parameter names of decays: trained only when ``train_beta`` is set."""


def truncated_normal(
    rng: np.random.Generator, shape: Shape, *, mean: float, stddev: float
) -> np.ndarray:
    """Normal(mean, stddev) truncated at two standard deviations (Haiku's TruncatedNormal), float32."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return (mean + stddev * out).astype(np.float32)


class Layer:
    """Base of every canonical layer. Concrete subclasses register themselves in ``LAYER_TYPES``.

    ``class X(Layer, abstract=True)`` declares a family (``StatelessLayer``, ``NeuronLayer``) that
    is not itself a layer.
    """

    spiking: ClassVar[bool] = False
    """Whether the layer emits spikes (every neuron layer but the LI readout)."""

    def __init_subclass__(cls, *, abstract: bool = False, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if abstract:
            return
        if cls.__name__ in LAYER_TYPES:
            raise TypeError(
                f"a layer named {cls.__name__} is already defined ({LAYER_TYPES[cls.__name__]})"
            )
        LAYER_TYPES[cls.__name__] = cls

    def output_shape(self, shape: Shape) -> Shape:
        """The shape this layer produces from ``shape``.

        Raises:
            ValueError: the layer cannot take that shape (the message says what it expects).
        """
        raise NotImplementedError

    def initial_weights(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """This layer's initial parameters by name (``"weight"``, ``"beta"``...), drawn from ``rng``."""
        return {}


def _expects(expected: str) -> ValueError:
    return ValueError(f"expects {expected}")


class StatelessLayer(Layer, abstract=True):
    """A layer that acts on each time step alone."""


class NeuronLayer(Layer, abstract=True):
    """A layer of neurons of shape ``size`` that carries state over time; spiking unless it says
    otherwise (a hidden layer may be any spiking neuron; the LI readout is not spiking)."""

    spiking: ClassVar[bool] = True
    size: int | Shape

    @property
    def shape(self) -> Shape:
        """``size`` as a tuple."""
        return (self.size,) if isinstance(self.size, int) else tuple(self.size)

    def output_shape(self, shape: Shape) -> Shape:
        if self.shape != shape:
            raise _expects(f"shape {self.shape}")
        if min(shape) < 1:
            raise ValueError("needs at least one neuron")
        return shape

    def _decay(self, rng: np.random.Generator) -> np.ndarray:
        return truncated_normal(rng, self.shape, mean=0.5, stddev=0.25)

    def _recurrent(self, rng: np.random.Generator) -> np.ndarray:
        std = 1.0 / np.sqrt(self.shape[0])
        return truncated_normal(rng, (self.shape[0], self.shape[0]), mean=0.0, stddev=std)


@dataclass(frozen=True, kw_only=True)
class Conv2d(StatelessLayer):
    """``I[t] = conv(x[t], W)``: stride 1, no padding ("valid"), no bias; ``W`` is ``[O, C, k, k]``."""

    in_channels: int
    out_channels: int
    kernel_size: int = 5

    def output_shape(self, shape: Shape) -> Shape:
        if len(shape) != 3 or shape[0] != self.in_channels or min(shape[1:]) < self.kernel_size:
            raise _expects(f"({self.in_channels}, H, W) with H, W >= {self.kernel_size}")
        k = self.kernel_size - 1
        return (self.out_channels, shape[1] - k, shape[2] - k)

    def initial_weights(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        k = self.kernel_size
        std = 1.0 / np.sqrt(self.in_channels * k * k)
        shape = (self.out_channels, self.in_channels, k, k)
        return {"weight": truncated_normal(rng, shape, mean=0.0, stddev=std)}


@dataclass(frozen=True, kw_only=True)
class MaxPool2d(StatelessLayer):
    """Non-overlapping ``k x k`` max pooling (stride ``k``, remainders dropped)."""

    kernel_size: int = 2

    def output_shape(self, shape: Shape) -> Shape:
        k = self.kernel_size
        if len(shape) != 3 or min(shape[1:]) < k:
            raise _expects(f"(C, H, W) with H, W >= {k}")
        return (shape[0], shape[1] // k, shape[2] // k)


@dataclass(frozen=True, kw_only=True)
class Flatten(StatelessLayer):
    """``(C, H, W) -> (C * H * W,)`` in channel-first (C, H, W) order, as ``torch.flatten``."""

    def output_shape(self, shape: Shape) -> Shape:
        return (int(np.prod(shape, dtype=np.int64)),)


@dataclass(frozen=True, kw_only=True)
class Linear(StatelessLayer):
    """``I[t] = x[t] @ W`` with ``W`` of shape ``[n_in, n_out]``; no bias."""

    n_in: int
    n_out: int

    def output_shape(self, shape: Shape) -> Shape:
        if shape != (self.n_in,):
            raise _expects(f"({self.n_in},)")
        return (self.n_out,)

    def initial_weights(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        std = 1.0 / np.sqrt(self.n_in)
        return {"weight": truncated_normal(rng, (self.n_in, self.n_out), mean=0.0, stddev=std)}


@dataclass(frozen=True, kw_only=True)
class LIF(NeuronLayer):
    """A layer of ``size`` LIF neurons (``frameworks.spec``); initial beta ``beta_init``, or
    TruncNormal(0.5, 0.25) when None."""

    size: int | Shape
    beta_init: float | None = None

    def initial_weights(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        if self.beta_init is not None:
            return {"beta": np.full(self.shape, self.beta_init, np.float32)}
        return {"beta": self._decay(rng)}


@dataclass(frozen=True, kw_only=True)
class LI(NeuronLayer):
    """A leaky-integrator readout of ``size`` neurons; initial beta ``beta_init`` (default 0.8)."""

    spiking: ClassVar[bool] = False
    size: int | Shape
    beta_init: float = 0.8

    def initial_weights(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"beta": np.full(self.shape, self.beta_init, np.float32)}


@dataclass(frozen=True, kw_only=True)
class IF(NeuronLayer):
    """A layer of ``size`` integrate-and-fire neurons (LIF with ``beta = 1``); no parameters."""

    size: int | Shape


@dataclass(frozen=True, kw_only=True)
class CuBaLIF(NeuronLayer):
    """A layer of ``size`` current-based LIF neurons; initial alpha, beta ~ TruncNormal(0.5, 0.25)."""

    size: int

    def initial_weights(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        alpha = self._decay(rng)  # drawn first: the order fixes the values
        return {"alpha": alpha, "beta": self._decay(rng)}


@dataclass(frozen=True, kw_only=True)
class ALIF(NeuronLayer):
    """``size`` adaptive-threshold LIF neurons; initial beta ~ TruncNormal(0.5, 0.25), gamma 0.9.

    ``adaptation``: how far one spike raises the threshold.
    """

    size: int
    adaptation: float = 1.0

    def initial_weights(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"beta": self._decay(rng), "gamma": np.full(self.shape, 0.9, np.float32)}


@dataclass(frozen=True, kw_only=True)
class RLIF(NeuronLayer):
    """``size`` recurrent LIF neurons; beta as LIF, ``W_rec`` ~ TruncNormal(0, 1 / sqrt(size))."""

    size: int

    def initial_weights(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        beta = self._decay(rng)
        return {"beta": beta, "recurrent": self._recurrent(rng)}


@dataclass(frozen=True, kw_only=True)
class RIF(NeuronLayer):
    """``size`` recurrent integrate-and-fire neurons; ``W_rec`` as RLIF."""

    size: int

    def initial_weights(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"recurrent": self._recurrent(rng)}


STATELESS = (Linear, Conv2d, MaxPool2d, Flatten)
"""The built-in stateless layers."""
NEURONS = (LIF, LI, IF, CuBaLIF, ALIF, RLIF, RIF)
"""The built-in neuron layers."""
NEURON_TYPES: tuple[str, ...] = tuple(t.__name__ for t in NEURONS if t.spiking)
"""The built-in spiking neuron layers a hidden layer may be (``shd_spec(neuron=...)``)."""


def neuron_shape(layer: NeuronLayer) -> Shape:
    """A neuron layer's shape (``size`` as a tuple)."""
    return layer.shape


def layer_shapes(layers: tuple[Layer, ...], input_shape: Shape) -> list[Shape]:
    """The output shape of every layer, checking that each fits the one before.

    Raises:
        ValueError: a layer cannot take the shape before it (the message names the layer's index).
    """
    shapes, shape = [], tuple(input_shape)
    for index, layer in enumerate(layers):
        try:
            shape = layer.output_shape(shape)
        except ValueError as error:
            raise ValueError(f"layer {index} ({layer}) {error}, gets shape {shape}") from None
        shapes.append(shape)
    return shapes
