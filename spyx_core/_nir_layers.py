"""spyx_core's layers in plain arrays, and how each becomes one NIR node and back.

A layer record holds what the Haiku module needs (Linear weights in Haiku's ``[in, out]`` layout,
per-neuron ``beta``). ``ENCODERS`` and ``DECODERS`` map record types to NIR node types; a new layer
kind (Conv2d, SumPool2d, Flatten) is one record, one encoder and one decoder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import nir
import numpy as np

from spyx_core._nir_errors import NIRGraphError
from spyx_core._nir_params import (
    BETA_TOLERANCE,
    RESET_METADATA,
    beta_from_tau,
    if_gain,
    if_to_nir,
    leaky_gain,
    leaky_to_nir,
    lif_to_nir,
)

Shape = tuple[int, ...]


@dataclass(frozen=True, kw_only=True, eq=False)
class LinearLayer:
    """``y = x @ weight`` with ``weight`` ``[n_in, n_out]`` (Haiku's layout); no bias."""

    weight: np.ndarray

    def output_shape(self, shape: Shape) -> Shape | None:
        """The output shape for input ``shape``; None when the layer cannot take it."""
        return (self.weight.shape[1],) if shape == (self.weight.shape[0],) else None


@dataclass(frozen=True, kw_only=True, eq=False)
class _NeuronLayer:
    def output_shape(self, shape: Shape) -> Shape | None:
        """A neuron layer keeps its input shape, which must be its own."""
        return shape if shape == self.shape else None


@dataclass(frozen=True, kw_only=True, eq=False)
class LIFLayer(_NeuronLayer):
    """Canonical LIF neurons: per-neuron ``beta`` ``[*shape]`` and one threshold ``theta``."""

    beta: np.ndarray
    theta: float = 1.0

    @property
    def shape(self) -> Shape:
        return self.beta.shape


@dataclass(frozen=True, kw_only=True, eq=False)
class LILayer(_NeuronLayer):
    """A leaky-integrator readout with per-neuron ``beta`` ``[*shape]``."""

    beta: np.ndarray

    @property
    def shape(self) -> Shape:
        return self.beta.shape


@dataclass(frozen=True, kw_only=True, eq=False)
class IFLayer(_NeuronLayer):
    """Integrate-and-fire neurons of the given ``shape`` and threshold ``theta``."""

    shape: Shape
    theta: float = 1.0


Layer = LinearLayer | LIFLayer | LILayer | IFLayer


class Decoded(NamedTuple):
    """A node read back: its layer and the input gain to fold into the layer before (None: 1)."""

    layer: Layer
    gain: np.ndarray | None


def _metadata(beta: np.ndarray | None, *, resets: bool) -> dict[str, Any]:
    meta: dict[str, Any] = dict(RESET_METADATA) if resets else {}
    if beta is not None:  # the effective decay: the canonical model clips beta on every use
        meta["beta"] = np.clip(np.asarray(beta, np.float32), 0.0, 1.0)
    return meta


def _encode_linear(layer: LinearLayer, dt: float) -> nir.NIRNode:
    # NIR's Linear computes W @ x with W [out, in]: the transpose of Haiku's [in, out].
    return nir.Linear(weight=np.ascontiguousarray(np.asarray(layer.weight, np.float32).T))


def _encode_lif(layer: LIFLayer, dt: float) -> nir.NIRNode:
    fields = lif_to_nir(layer.beta.ravel(), layer.theta, dt)
    fields = {k: v.reshape(layer.shape) for k, v in fields.items()}
    return nir.LIF(**fields, metadata=_metadata(layer.beta, resets=True))


def _encode_li(layer: LILayer, dt: float) -> nir.NIRNode:
    fields = {k: v.reshape(layer.shape) for k, v in leaky_to_nir(layer.beta.ravel(), dt).items()}
    return nir.LI(**fields, metadata=_metadata(layer.beta, resets=False))


def _encode_if(layer: IFLayer, dt: float) -> nir.NIRNode:
    fields = if_to_nir(int(np.prod(layer.shape)), layer.theta, dt)
    fields = {k: v.reshape(layer.shape) for k, v in fields.items()}
    return nir.IF(**fields, metadata=_metadata(None, resets=True))


ENCODERS: dict[type, Callable[[Any, float], nir.NIRNode]] = {
    LinearLayer: _encode_linear,
    LIFLayer: _encode_lif,
    LILayer: _encode_li,
    IFLayer: _encode_if,
}


def _field(name: str, node: nir.NIRNode, field: str) -> np.ndarray:
    """A numeric field as float32, refused when it holds NaN or infinity."""
    value = np.asarray(getattr(node, field), np.float32)
    if not np.all(np.isfinite(value)):
        raise NIRGraphError(name, f"{type(node).__name__}.{field} holds NaN or infinite values")
    return value


def _per_neuron(name: str, node: nir.NIRNode, fields: tuple[str, ...]) -> dict[str, np.ndarray]:
    values = {f: _field(name, node, f) for f in fields}
    shape = values[fields[0]].shape
    if shape == ():
        raise NIRGraphError(name, f"{fields[0]} is a scalar; give one value per neuron")
    for field, value in values.items():
        if value.shape != shape:
            raise NIRGraphError(name, f"{field} has shape {value.shape}, {fields[0]} {shape}")
    return values


def _uniform_threshold(name: str, v_threshold: np.ndarray) -> float:
    if np.unique(v_threshold).size != 1:
        raise NIRGraphError(name, "v_threshold differs between neurons; spyx_core has one per layer")
    return float(v_threshold.flat[0])


def _check_reset(name: str, node: nir.NIRNode) -> None:
    found = {k: node.metadata.get(k) for k in RESET_METADATA}
    if any(str(found[k]) != str(v) for k, v in RESET_METADATA.items()):
        raise NIRGraphError(
            name,
            f"reset metadata {found} is not {RESET_METADATA}: NIR's own reset (to v_reset, at "
            "once) is not spyx_core's subtractive delayed reset",
        )


def _leaky(name: str, node: nir.NIRNode, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """``beta`` and the input gain of a LIF/LI node (metadata ``beta`` wins when it agrees)."""
    p = _per_neuron(name, node, ("tau", "r", "v_leak"))
    if np.any(p["tau"] <= 0):
        raise NIRGraphError(name, "tau must be positive")
    if np.any(p["v_leak"] != 0):
        raise NIRGraphError(name, "v_leak is not 0; the canonical neurons have no leak potential")
    beta = beta_from_tau(p["tau"], dt)
    if "beta" in node.metadata:
        exact = np.asarray(node.metadata["beta"], np.float32)
        if exact.shape != beta.shape or not np.allclose(exact, beta, rtol=0, atol=BETA_TOLERANCE):
            raise NIRGraphError(name, "metadata beta disagrees with 1 - dt/tau (edited graph?)")
        beta = exact
    return beta, leaky_gain(p["tau"], p["r"], dt)


def _decode_linear(name: str, node: nir.NIRNode, dt: float) -> Decoded:
    weight = _field(name, node, "weight")
    if weight.ndim != 2:
        raise NIRGraphError(name, f"weight must be 2-D [out, in], has shape {weight.shape}")
    if isinstance(node, nir.Affine) and np.any(_field(name, node, "bias") != 0):
        raise NIRGraphError(name, "Affine has a nonzero bias; the canonical network has none")
    return Decoded(LinearLayer(weight=np.ascontiguousarray(weight.T)), None)


def _decode_lif(name: str, node: nir.NIRNode, dt: float) -> Decoded:
    _check_reset(name, node)
    beta, gain = _leaky(name, node, dt)
    p = _per_neuron(name, node, ("tau", "v_threshold", "v_reset"))
    return Decoded(LIFLayer(beta=beta, theta=_uniform_threshold(name, p["v_threshold"])), gain)


def _decode_li(name: str, node: nir.NIRNode, dt: float) -> Decoded:
    beta, gain = _leaky(name, node, dt)
    return Decoded(LILayer(beta=beta), gain)


def _decode_if(name: str, node: nir.NIRNode, dt: float) -> Decoded:
    _check_reset(name, node)
    p = _per_neuron(name, node, ("r", "v_threshold", "v_reset"))
    layer = IFLayer(shape=p["r"].shape, theta=_uniform_threshold(name, p["v_threshold"]))
    return Decoded(layer, if_gain(p["r"], dt))


DECODERS: dict[type, Callable[[str, Any, float], Decoded]] = {
    nir.Linear: _decode_linear,
    nir.Affine: _decode_linear,
    nir.LIF: _decode_lif,
    nir.LI: _decode_li,
    nir.IF: _decode_if,
}


def decode(name: str, node: nir.NIRNode, dt: float) -> Decoded:
    """The layer that NIR node ``name`` describes.

    Raises:
        NIRGraphError: an unknown node type, or parameters spyx_core cannot run (message says which).
    """
    decoder = DECODERS.get(type(node))
    if decoder is None:
        known = ", ".join(t.__name__ for t in DECODERS)
        raise NIRGraphError(name, f"unknown node type {type(node).__name__}; supported: {known}")
    return decoder(name, node, dt)


def encode(layer: Layer, dt: float) -> nir.NIRNode:
    """The NIR node of one layer record."""
    return ENCODERS[type(layer)](layer, dt)
