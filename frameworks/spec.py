"""The canonical model: written once here, read by every adapter, never re-typed.

Neuron maths (discrete time, unit step; ``H`` is the strict Heaviside step, ``H(0) = 0``)::

    LIF      v[t] = beta * v[t-1] + I[t] - theta * s[t-1]     (reset term detached from the gradient)
             s[t] = H(v[t] - theta)                            (surrogate derivative backward)
    readout  u[t] = beta_out * u[t-1] + I[t],   logits = sum_t u[t]

The other neurons (IF, CuBaLIF, ALIF, RLIF, RIF) follow the same conventions; their equations are
written once, in ``spyx_core/_neurons.py`` and ``spyx_core/_recurrent.py``. A spec may name any of
them; an adapter that cannot express one exactly raises ``Unsupported`` naming it.

A network ends with the LI readout (a classifier: ``n_classes`` is its size) or with a spiking
layer whose spike trains are the output (the micro-benchmark, ``micro_spec``: ``n_classes`` None).

Every decay (``beta``, CuBaLIF's ``alpha``, ALIF's ``gamma``) is per neuron, clipped to ``[0, 1]`` on
every use, trainable in the paper configuration. The clip's derivative is 1 on the closed interval
``[0, 1]``, boundaries included, and 0 outside (``torch.clamp``'s convention,
``spyx_core.clip_decay``): a decay seeded or trained onto 0 or 1 gets its whole gradient in every
framework. No biases. Loss: softmax cross-entropy of the logits against one-hot labels smoothed by
``label_smoothing``, batch mean. Optimiser: Adam (``b1=0.9, b2=0.999, eps=1e-8``).

Layer lists are time-distributed: ``Linear`` acts on every time step; a neuron layer carries state.
Layers and their shapes are in ``frameworks.layers``. Parameters are named
``"<layer index>.<name>"``: ``"0.weight"`` (Linear ``[n_in, n_out]``, ``x @ W``; Conv2d
``[O, C, k, k]``),
``"1.beta"``, ``"1.alpha"``, ``"1.gamma"`` (the layer's shape) and ``"1.recurrent"`` (``[size, size]``,
``s @ W_rec``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from frameworks.layers import (
    ALIF,
    DECAYS,
    IF,
    LAYER_TYPES,
    LI,
    LIF,
    NEURON_TYPES,
    RIF,
    RLIF,
    STATELESS,
    Conv2d,
    CuBaLIF,
    Flatten,
    Layer,
    Linear,
    MaxPool2d,
    NeuronLayer,
    Shape,
    StatelessLayer,
    layer_shapes,
    neuron_shape,
)

__all__ = [  # the layers are re-exported: adapters read everything canonical from here
    "ALIF", "DECAYS", "IF", "LAYER_TYPES", "LI", "LIF", "NEURON_TYPES", "RIF", "RLIF", "STATELESS",
    "Conv2d", "CuBaLIF", "Flatten", "Layer", "Linear", "MaxPool2d", "ModelSpec", "NeuronLayer", "Shape",
    "StatelessLayer", "init_weights",
    "is_decay", "layer_shapes", "micro_input", "micro_spec", "neuron_shape", "nmnist_spec",
    "random_spikes", "shd_spec", "trained_names",
]  # fmt: skip

SHD_CLASSES = 20
NMNIST_CLASSES = 10
NMNIST_INPUT: Shape = (2, 34, 34)
SHD_GAINS = {"weight_gain": 3.0, "readout_gain": 0.02}
NMNIST_GAINS = {"weight_gain": 2.0, "readout_gain": 0.1}
"""The tasks' initial weight scales (``ModelSpec.weight_gain``, ``readout_gain``). Haiku's default
init (both 1, the paper's) leaves the paper's networks silent on their data: SHD (C=128, H=128..512,
T=256) hidden spike rates ~0.15% and 0%, readout 0, first-step loss ln 20 in every framework, so
any two implementations "agree"; N-MNIST m=1: 0.4% and 0.01%. The hidden gains put every hidden
layer at ~5-16% on the twins' first batch; the readout gains then bring the integrated logits'
spread to ~1.3 (a first-step loss ~1.2x ln K instead of ~30x). docs/initialisation.md has the
measurement."""
MICRO_INPUT_RATE = 0.1
"""Spike probability per input, step and sample of the micro-benchmark's input (``micro_input``)."""


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """One network, its neurons and its training rule: everything two frameworks must share.

    Attributes:
        task: the task the network is for (``"shd"``, ``"nmnist"``, ``"micro"``).
        layers: the network, input first.
        time_steps: ``T``.
        theta: firing threshold of every LIF neuron.
        train_beta: whether every decay (``DECAYS``: ``beta``, ``alpha``, ``gamma``) is trained.
        surrogate: surrogate-gradient name (``spyx_core.SURROGATE_DERIVATIVES``).
        surrogate_slope: its slope ``k``.
        label_smoothing: of the integral cross-entropy.
        learning_rate: of Adam.
        weight_gain: the initial Linear and Conv2d weights' scale relative to Haiku's default
            (``init_weights``), but for the readout's; the tasks choose theirs (``SHD_GAINS``).
        readout_gain: the same for the weights that feed an LI readout.
    """

    task: str
    layers: tuple[Layer, ...]
    time_steps: int
    theta: float = 1.0
    train_beta: bool = True
    surrogate: str = "arctan"
    surrogate_slope: float = 2.0
    label_smoothing: float = 0.3
    learning_rate: float = 5e-4
    weight_gain: float = 1.0
    readout_gain: float = 1.0
    input_shape: Shape | None = None
    """Per-step input shape; None takes ``(n_in,)`` of a first Linear layer."""
    n_classes: int | None = field(init=False)
    """The LI readout's size; None when the network ends with a spiking layer (its spikes out)."""

    def __post_init__(self) -> None:
        if not self.layers:
            raise ValueError("a network needs layers")
        for i, layer in enumerate(self.layers):
            if not isinstance(layer, Layer) or type(layer) not in LAYER_TYPES.values():
                known = ", ".join(LAYER_TYPES)
                raise ValueError(f"layer {i} is a {type(layer).__name__}; known layers: {known}")
        last = self.layers[-1]
        if isinstance(last, LI) and len(neuron_shape(last)) == 1:
            classes = neuron_shape(last)[0]
        elif last.spiking:
            classes = None  # a spiking output layer: its spike trains are the network's output
        else:
            raise ValueError(
                "a network ends with an LI readout of one neuron per class, or with a spiking "
                "layer whose spikes are its output"
            )
        if self.input_shape is None:
            if not isinstance(self.layers[0], Linear):
                raise ValueError("input_shape is required unless the network starts with a Linear")
            object.__setattr__(self, "input_shape", (self.layers[0].n_in,))
        object.__setattr__(self, "input_shape", tuple(self.input_shape))
        layer_shapes(self.layers, self.input_shape)  # raises on any mismatch
        positive = ("time_steps", "theta", "surrogate_slope", "learning_rate")
        for name in (*positive, "weight_gain", "readout_gain"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing}")
        object.__setattr__(self, "n_classes", classes)

    @property
    def shapes(self) -> list[Shape]:
        """Every layer's output shape."""
        return layer_shapes(self.layers, self.input_shape)

    def to_dict(self) -> dict:
        """A JSON-ready description, layers tagged by type."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        data["layers"] = [{"type": type(x).__name__, **dataclasses.asdict(x)} for x in self.layers]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> ModelSpec:
        """Inverse of ``to_dict``.

        Raises:
            ValueError: an unknown layer type or field.
        """
        fields = dict(data)
        layers = []
        for entry in fields.pop("layers"):
            entry = dict(entry)
            kind = entry.pop("type")
            if kind not in LAYER_TYPES:
                raise ValueError(f"unknown layer type {kind!r}; known: {', '.join(LAYER_TYPES)}")
            entry = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()}
            layers.append(LAYER_TYPES[kind](**entry))
        if fields.get("input_shape") is not None:
            fields["input_shape"] = tuple(fields["input_shape"])
        return cls(layers=tuple(layers), **fields)


def shd_spec(
    *,
    channels: int = 128,
    hidden: int = 128,
    time_steps: int = 256,
    neuron: str = "LIF",
    **overrides,
) -> ModelSpec:
    """The paper's SHD network: Linear(C->H) -> LIF -> Linear(H->H) -> LIF -> Linear(H->20) -> LI.

    ``neuron`` swaps both hidden LIF layers for another of ``NEURON_TYPES``.

    Raises:
        ValueError: ``neuron`` is not one of ``NEURON_TYPES``.
    """
    if neuron not in NEURON_TYPES:
        raise ValueError(f"unknown neuron {neuron!r}; choose one of: {', '.join(NEURON_TYPES)}")
    hidden_layer = LAYER_TYPES[neuron]
    overrides = SHD_GAINS | overrides
    layers = (
        Linear(n_in=channels, n_out=hidden),
        hidden_layer(size=hidden),
        Linear(n_in=hidden, n_out=hidden),
        hidden_layer(size=hidden),
        Linear(n_in=hidden, n_out=SHD_CLASSES),
        LI(size=SHD_CLASSES),
    )
    return ModelSpec(task="shd", layers=layers, time_steps=time_steps, **overrides)


def nmnist_spec(
    *, width: int = 1, time_steps: int = 64, input_shape: Shape = NMNIST_INPUT, **overrides
) -> ModelSpec:
    """The paper's N-MNIST conv net, channel multiplier ``width`` (m)::

        Conv(2 -> 12m, 5x5) -> LIF -> MaxPool 2 -> Conv(12m -> 32m, 5x5) -> LIF -> MaxPool 2
        -> Flatten -> Linear(-> 10) -> LI

    Valid convolutions without bias; every beta starts at 0.5, per neuron (Spyx trains one scalar
    per layer from 0.5; per-neuron is the canonical model's choice). Paper training: SuperSpike
    surrogate with slope 25, Adam with learning rate 2e-2. ``input_shape`` may be smaller than
    ``(2, 34, 34)`` for quick tests.
    """
    if width < 1:
        raise ValueError(f"width must be at least 1, got {width}")
    stem = (
        Conv2d(in_channels=input_shape[0], out_channels=12 * width),
        None,
        MaxPool2d(),
        Conv2d(in_channels=12 * width, out_channels=32 * width),
        None,
        MaxPool2d(),
        Flatten(),
    )
    layers, shape = [], tuple(input_shape)
    for layer in stem:
        layer = layer or LIF(size=shape, beta_init=0.5)  # a LIF on the feature map before it
        layers.append(layer)
        shape = layer_shapes((layer,), shape)[0]
    layers += [Linear(n_in=shape[0], n_out=NMNIST_CLASSES), LI(size=NMNIST_CLASSES, beta_init=0.5)]
    options = {"surrogate": "superspike", "surrogate_slope": 25.0, "learning_rate": 2e-2}
    options |= NMNIST_GAINS
    return ModelSpec(
        task="nmnist",
        layers=tuple(layers),
        time_steps=time_steps,
        input_shape=tuple(input_shape),
        **(options | overrides),
    )


def micro_spec(n: int, *, time_steps: int = 500, **overrides) -> ModelSpec:
    """The Open Neuromorphic micro-benchmark network: Linear(n -> n) -> LIF(n), its spikes the output.

    One canonical LIF layer (per-neuron beta, detached delayed reset, the spec's surrogate) whose
    spike trains ``[T, B, n]`` are the network's output, so ``n_classes`` is None. ONM times its
    forward pass and the backward pass of ``output.sum()`` (README, "Reproducing the paper's tables").
    """
    layers = (Linear(n_in=n, n_out=n), LIF(size=n))
    return ModelSpec(task="micro", layers=layers, time_steps=time_steps, **overrides)


def random_spikes(rng: np.random.Generator, shape: Shape, rate: float) -> np.ndarray:
    """Bernoulli(``rate``) binary spikes of ``shape``, float32, drawn from ``rng``."""
    return (rng.random(shape) < rate).astype(np.float32)


def micro_input(
    spec: ModelSpec, *, batch_size: int = 16, seed: int = 0, rate: float = MICRO_INPUT_RATE
) -> np.ndarray:
    """The micro-benchmark's input, float32 spikes ``[B, T, n]``: the same for every framework.

    Bernoulli(``rate``) spikes from ``numpy.random.default_rng(seed)``. ONM fed Gaussian floats to
    the torch libraries and all-ones to Spyx, so activity differed between frameworks; here every
    framework gets these same binary spikes.
    """
    rng = np.random.default_rng(seed)
    spikes = np.empty((batch_size, spec.time_steps, *spec.input_shape), np.float32)
    for b in range(batch_size):  # sample by sample: one float64 draw would be twice the input's size
        spikes[b] = random_spikes(rng, spikes.shape[1:], rate)  # same values as one draw
    return spikes


def init_weights(spec: ModelSpec, *, seed: int) -> dict[str, np.ndarray]:
    """The initial parameters every adapter starts from, float32, deterministic in ``seed``.

    Drawn layer by layer by each layer's ``initial_weights`` (``frameworks.layers``), in this order
    within a layer:

    - Linear ``weight``: TruncNormal(0, g / sqrt(n_in)), ``[n_in, n_out]``;
    - Conv2d ``weight``: TruncNormal(0, g / sqrt(C k k)), ``[O, C, k, k]``;
    - CuBaLIF ``alpha``: TruncNormal(0.5, 0.25);
    - LIF, CuBaLIF, ALIF, RLIF ``beta``: TruncNormal(0.5, 0.25) (lies in [0, 1]), or a LIF's
      ``beta_init``; LI ``beta``: its ``beta_init`` (0.8 by default);
    - ALIF ``gamma``: 0.9 (slow threshold adaptation);
    - RLIF, RIF ``recurrent``: TruncNormal(0, 1 / sqrt(size)), ``[size, size]``.

    IF has no parameters. Every decay is present, trained or not. TruncNormal is cut at two
    standard deviations. ``g`` is ``spec.readout_gain`` for the weights that feed an LI readout
    and ``spec.weight_gain`` for every other; 1 is Haiku's default (the paper's init); the tasks'
    own are ``SHD_GAINS`` and ``NMNIST_GAINS``. Recurrent weights keep gain 1.
    """
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}
    for i, layer in enumerate(spec.layers):
        for name, value in layer.initial_weights(rng).items():
            weights[f"{i}.{name}"] = value
    feedforward = [key for key in weights if key.endswith(".weight")]
    for key in feedforward:  # the last one feeds the readout, when the network has one
        readout = key == feedforward[-1] and spec.n_classes is not None
        gain = spec.readout_gain if readout else spec.weight_gain
        if gain != 1.0:
            weights[key] = weights[key] * np.float32(gain)
    return weights


def is_decay(name: str) -> bool:
    """Whether the canonical parameter ``name`` (``"<i>.<kind>"``) is a decay (``DECAYS``)."""
    return name.rpartition(".")[2] in DECAYS


def trained_names(spec: ModelSpec, weights: dict[str, np.ndarray]) -> list[str]:
    """The parameter names that training updates (decays drop out when ``train_beta`` is off)."""
    return [k for k in weights if spec.train_beta or not is_decay(k)]
