"""The canonical model: written once here, read by every adapter, never re-typed.

Neuron maths (discrete time, unit step; ``H`` is the strict Heaviside step, ``H(0) = 0``)::

    LIF      v[t] = beta * v[t-1] + I[t] - theta * s[t-1]     (reset term detached from the gradient)
             s[t] = H(v[t] - theta)                            (surrogate derivative backward)
    readout  u[t] = beta_out * u[t-1] + I[t],   logits = sum_t u[t]

``beta`` is per neuron, clipped to ``[0, 1]`` on every use, trainable in the paper configuration.
No biases. Loss: softmax cross-entropy of the logits against one-hot labels smoothed by
``label_smoothing``, batch mean. Optimiser: Adam (``b1=0.9, b2=0.999, eps=1e-8``).

Layer lists are time-distributed: ``Linear`` acts on every time step; a neuron layer carries state.
Parameters are named ``"<layer index>.<name>"``: ``"0.weight"`` (``[n_in, n_out]``, ``x @ W``) and
``"1.beta"`` (``[size]``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, kw_only=True)
class Linear:
    """``I[t] = x[t] @ W`` with ``W`` of shape ``[n_in, n_out]``; no bias."""

    n_in: int
    n_out: int


@dataclass(frozen=True, kw_only=True)
class LIF:
    """A layer of ``size`` LIF neurons (module docstring); initial beta ~ TruncNormal(0.5, 0.25)."""

    size: int


@dataclass(frozen=True, kw_only=True)
class LI:
    """A leaky-integrator readout of ``size`` neurons; initial beta 0.8."""

    size: int


Layer = Linear | LIF | LI
LAYER_TYPES: dict[str, type] = {t.__name__: t for t in (Linear, LIF, LI)}
"""Layer name -> class; ``ModelSpec.from_dict`` reads layers through it."""

SHD_CLASSES = 20


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """One network, its neurons and its training rule: everything two frameworks must share.

    Attributes:
        task: the task the network is for (``"shd"``).
        layers: the network, input first.
        time_steps: ``T``.
        theta: firing threshold of every LIF neuron.
        train_beta: whether every ``beta`` is a trained parameter.
        surrogate: surrogate-gradient name (``spyx_core.SURROGATE_DERIVATIVES``).
        surrogate_slope: its slope ``k``.
        label_smoothing: of the integral cross-entropy.
        learning_rate: of Adam.
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
    input_shape: tuple[int, ...] = field(init=False)
    n_classes: int = field(init=False)

    def __post_init__(self) -> None:
        if not self.layers or not isinstance(self.layers[0], Linear):
            raise ValueError("a network starts with a Linear layer")
        if not isinstance(self.layers[-1], LI):
            raise ValueError("a network ends with an LI readout")
        width = self.layers[0].n_in
        for i, layer in enumerate(self.layers):
            n_in = layer.n_in if isinstance(layer, Linear) else layer.size
            if n_in != width:
                raise ValueError(f"layer {i} ({layer}) expects {n_in} inputs, gets {width}")
            width = layer.n_out if isinstance(layer, Linear) else layer.size
        for name in ("time_steps", "theta", "surrogate_slope", "learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing}")
        object.__setattr__(self, "input_shape", (self.layers[0].n_in,))
        object.__setattr__(self, "n_classes", self.layers[-1].size)

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
            layers.append(LAYER_TYPES[kind](**entry))
        return cls(layers=tuple(layers), **fields)


def shd_spec(*, channels: int = 128, hidden: int = 128, time_steps: int = 256, **overrides) -> ModelSpec:
    """The paper's SHD network: Linear(C->H) -> LIF -> Linear(H->H) -> LIF -> Linear(H->20) -> LI."""
    layers = (
        Linear(n_in=channels, n_out=hidden),
        LIF(size=hidden),
        Linear(n_in=hidden, n_out=hidden),
        LIF(size=hidden),
        Linear(n_in=hidden, n_out=SHD_CLASSES),
        LI(size=SHD_CLASSES),
    )
    return ModelSpec(task="shd", layers=layers, time_steps=time_steps, **overrides)


def _truncated_normal(rng: np.random.Generator, shape, *, mean: float, stddev: float) -> np.ndarray:
    """Normal(mean, stddev) truncated at two standard deviations (Haiku's TruncatedNormal)."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return (mean + stddev * out).astype(np.float32)


def init_weights(spec: ModelSpec, *, seed: int) -> dict[str, np.ndarray]:
    """The initial parameters every adapter starts from, float32, deterministic in ``seed``.

    Linear: TruncNormal(0, 1 / sqrt(n_in)) (Haiku's default). LIF beta: TruncNormal(0.5, 0.25),
    which lies in [0, 1]. LI beta: 0.8. Every beta is present, trained or not.
    """
    rng = np.random.default_rng(seed)
    weights: dict[str, np.ndarray] = {}
    for i, layer in enumerate(spec.layers):
        if isinstance(layer, Linear):
            std = 1.0 / np.sqrt(layer.n_in)
            weights[f"{i}.weight"] = _truncated_normal(
                rng, (layer.n_in, layer.n_out), mean=0.0, stddev=std
            )
        elif isinstance(layer, LIF):
            weights[f"{i}.beta"] = _truncated_normal(rng, (layer.size,), mean=0.5, stddev=0.25)
        elif isinstance(layer, LI):
            weights[f"{i}.beta"] = np.full((layer.size,), 0.8, np.float32)
    return weights


def trained_names(spec: ModelSpec, weights: dict[str, np.ndarray]) -> list[str]:
    """The parameter names that training updates (betas drop out when ``train_beta`` is off)."""
    return [k for k in weights if spec.train_beta or not k.endswith(".beta")]
