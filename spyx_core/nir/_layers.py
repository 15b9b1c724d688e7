"""spyx_core's layers in plain arrays, and how each becomes NIR nodes and back.

A layer record holds what the Haiku module needs (Linear weights in Haiku's ``[in, out]`` layout,
Conv2d kernels ``[O, C, k, k]`` (OIHW) on channel-first maps, per-neuron ``beta`` of the layer's
shape). ``ENCODERS`` and ``DECODERS`` map record types to NIR node types; a new layer kind is one
record, one encoder and one decoder.

**Max-pooling.** NIR 1.0 has no max-pool node. A ``MaxPoolLayer`` is written as two nodes, a
``nir.SumPool2d`` (kernel ``k``, stride ``k``, no padding) followed by a ``nir.Threshold`` of 0.5,
both marked with metadata ``{MAXPOOL_KEY: "sum"}`` / ``{MAXPOOL_KEY: "threshold"}``, and read back
as one layer (``layer_groups``). Why the pair is the max-pool:

* **exact on binary input.** In the canonical networks a pool always follows a spiking layer, so
  every input is 0 or 1. The window sum ``n`` is then an integer in ``[0, k*k]`` and
  ``H(n - 0.5) = 1`` exactly when some input is 1, i.e. ``max = H(sum - 0.5)``, bit for bit (the sum of
  a few 0/1 values is exact in float32, and any threshold in ``[0, 1)`` gives the same result).
* **wrong on anything else.** For non-binary input (a pool after a Linear/Conv or an LI membrane,
  graded spikes) the pair computes "is the window sum above 0.5", not the maximum: ``[0.3, 0.3]``
  gives 1 instead of 0.3, ``[-2, 1]`` gives 0 instead of 1. A reader that honours the metadata
  (spyx_core) runs a true max-pool, which agrees with the pair only on binary input; spikebench
  writes the pair only after a spiking layer.

An unmarked ``SumPool2d`` or ``Threshold`` is refused (spyx_core runs neither on its own), as is
a marked node whose partner is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import nir
import numpy as np

from spyx_core.nir._errors import NIRGraphError
from spyx_core.nir._params import (
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
class ConvLayer:
    """A valid, stride-1, bias-free 2-D conv of channel-first maps; ``weight`` ``[O, C, k, k]``."""

    weight: np.ndarray

    def output_shape(self, shape: Shape) -> Shape | None:
        """``(O, H - k + 1, W - k + 1)`` for input ``(C, H, W)``; None when the layer cannot take it."""
        out, channels, k, _ = self.weight.shape
        if len(shape) != 3 or shape[0] != channels or min(shape[1:]) < k:
            return None
        return (out, shape[1] - k + 1, shape[2] - k + 1)


@dataclass(frozen=True, kw_only=True, eq=False)
class MaxPoolLayer:
    """Non-overlapping ``k x k`` max-pooling of channel-first maps (stride ``k``, remainders dropped)."""

    kernel_size: int = 2

    def output_shape(self, shape: Shape) -> Shape | None:
        """``(C, H // k, W // k)`` for input ``(C, H, W)``; None when the layer cannot take it."""
        k = self.kernel_size
        if len(shape) != 3 or min(shape[1:]) < k:
            return None
        return (shape[0], shape[1] // k, shape[2] // k)


@dataclass(frozen=True, kw_only=True, eq=False)
class FlattenLayer:
    """One sample flattened in its own (C, H, W) order, as ``torch.flatten`` of an unbatched map."""

    def output_shape(self, shape: Shape) -> Shape | None:
        """``(C * H * W,)`` for any input shape."""
        return (int(np.prod(shape)),) if shape else None


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


Layer = LinearLayer | ConvLayer | MaxPoolLayer | FlattenLayer | LIFLayer | LILayer | IFLayer

MAXPOOL_KEY = "maxpool_of_spikes"
"""Node metadata key marking the two nodes of a max-pool: value ``"sum"`` or ``"threshold"``."""

MAXPOOL_THRESHOLD = 0.5
"""The Threshold written after the SumPool2d of a max-pool (module docstring: any value in [0, 1))."""


class Decoded(NamedTuple):
    """A layer read back: the layer and the input gain to fold into the layer before (None: 1)."""

    layer: Layer
    gain: np.ndarray | None


Encoded = nir.NIRNode | dict[str, nir.NIRNode]
"""An encoder's result: one node, or several keyed by name suffix (``""``: the first, named as the
layer; the others ``"<layer>.<suffix>"``), which form a chain in that order."""


def _metadata(beta: np.ndarray | None, *, resets: bool) -> dict[str, Any]:
    meta: dict[str, Any] = dict(RESET_METADATA) if resets else {}
    if beta is not None:  # the effective decay: the canonical model clips beta on every use
        meta["beta"] = np.clip(np.asarray(beta, np.float32), 0.0, 1.0)
    return meta


def _encode_linear(layer: LinearLayer, shape: Shape, dt: float) -> Encoded:
    # NIR's Linear computes W @ x with W [out, in]: the transpose of Haiku's [in, out].
    return nir.Linear(weight=np.ascontiguousarray(np.asarray(layer.weight, np.float32).T))


def _encode_conv(layer: ConvLayer, shape: Shape, dt: float) -> Encoded:
    # NIR's Conv2d kernel is [O, C, kH, kW] (OIHW), as spyx_core's; input_shape (H, W) gives it types.
    weight = np.ascontiguousarray(np.asarray(layer.weight, np.float32))
    zeros = np.zeros(weight.shape[0], np.float32)
    fixed = {"stride": 1, "padding": 0, "dilation": 1, "groups": 1}
    return nir.Conv2d(input_shape=tuple(shape[1:]), weight=weight, bias=zeros, **fixed)


def _encode_maxpool(layer: MaxPoolLayer, shape: Shape, dt: float) -> Encoded:
    """The SumPool2d + Threshold pair (module docstring), each marked as half of a max-pool."""
    k = np.array([layer.kernel_size] * 2)
    pooled = layer.output_shape(shape)
    return {
        "": nir.SumPool2d(
            kernel_size=k, stride=k, padding=np.zeros(2, int), metadata={MAXPOOL_KEY: "sum"}
        ),
        "threshold": nir.Threshold(
            threshold=np.full(pooled, MAXPOOL_THRESHOLD, np.float32),
            metadata={MAXPOOL_KEY: "threshold"},
        ),
    }


def _encode_flatten(layer: FlattenLayer, shape: Shape, dt: float) -> Encoded:
    # An unbatched sample: the whole (C, H, W) map, from dim 0.
    return nir.Flatten(input_type={"input": np.array(shape)}, start_dim=0, end_dim=-1)


def _encode_lif(layer: LIFLayer, shape: Shape, dt: float) -> Encoded:
    fields = lif_to_nir(layer.beta.ravel(), layer.theta, dt)
    fields = {k: v.reshape(layer.shape) for k, v in fields.items()}
    return nir.LIF(**fields, metadata=_metadata(layer.beta, resets=True))


def _encode_li(layer: LILayer, shape: Shape, dt: float) -> Encoded:
    fields = {k: v.reshape(layer.shape) for k, v in leaky_to_nir(layer.beta.ravel(), dt).items()}
    return nir.LI(**fields, metadata=_metadata(layer.beta, resets=False))


def _encode_if(layer: IFLayer, shape: Shape, dt: float) -> Encoded:
    fields = if_to_nir(int(np.prod(layer.shape)), layer.theta, dt)
    fields = {k: v.reshape(layer.shape) for k, v in fields.items()}
    return nir.IF(**fields, metadata=_metadata(None, resets=True))


ENCODERS: dict[type, Callable[[Any, Shape, float], Encoded]] = {
    LinearLayer: _encode_linear,
    ConvLayer: _encode_conv,
    MaxPoolLayer: _encode_maxpool,
    FlattenLayer: _encode_flatten,
    LIFLayer: _encode_lif,
    LILayer: _encode_li,
    IFLayer: _encode_if,
}


def as_str(value: Any) -> str:
    """A string field of a NIR node or graph as ``str``: h5py reads strings back as ``bytes``."""
    return value.decode() if isinstance(value, bytes) else str(value)


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
    if any(as_str(found[k]) != str(v) for k, v in RESET_METADATA.items()):
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


def _pair(value: Any) -> np.ndarray:
    """An int-or-pair conv/pool argument as an array of two."""
    return np.broadcast_to(np.asarray(value).ravel(), (2,))


def _decode_conv(name: str, node: nir.NIRNode, dt: float) -> Decoded:
    """A Conv2d node; anything but spyx_core's valid, stride-1, bias-free, square conv is refused."""
    weight = _field(name, node, "weight")
    if weight.ndim != 4:
        raise NIRGraphError(name, f"weight must be 4-D [out, in, kH, kW], has shape {weight.shape}")
    if weight.shape[2] != weight.shape[3]:
        kernel = f"{weight.shape[2]}x{weight.shape[3]}"
        raise NIRGraphError(name, f"kernel is {kernel}; spyx_core's convolutions are square")
    padding = node.padding
    textual = isinstance(padding, str | bytes)
    valid = as_str(padding) == "valid" if textual else not np.any(_pair(padding))
    unsupported = {
        "stride": not np.all(_pair(node.stride) == 1),
        "padding": not valid,
        "dilation": not np.all(_pair(node.dilation) == 1),
        "groups": int(node.groups) != 1,
    }
    for field, bad in unsupported.items():
        if bad:
            raise NIRGraphError(
                name,
                f"{field} {getattr(node, field)!r} is not supported: spyx_core runs valid (unpadded), "
                "stride-1, undilated, ungrouped convolutions",
            )
    if np.any(_field(name, node, "bias") != 0):
        raise NIRGraphError(name, "Conv2d has a nonzero bias; the canonical network has none")
    return Decoded(ConvLayer(weight=np.ascontiguousarray(weight)), None)


def _decode_flatten(name: str, node: nir.NIRNode, dt: float) -> Decoded:
    start, end = int(node.start_dim), int(node.end_dim)
    if (start, end) != (0, -1):
        raise NIRGraphError(
            name,
            f"Flatten(start_dim={start}, end_dim={end}) does not flatten a whole unbatched sample; "
            "spyx_core's Flatten is start_dim=0, end_dim=-1 (NIR types carry no batch axis)",
        )
    return Decoded(FlattenLayer(), None)


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


def _decode_alone(name: str, node: nir.NIRNode, dt: float) -> Decoded:
    """A SumPool2d or Threshold outside a marked max-pool pair: spyx_core runs neither alone."""
    raise NIRGraphError(
        name,
        f"a {type(node).__name__} is read only as half of a max-pool of spikes (a SumPool2d "
        f"followed by a Threshold, with metadata {MAXPOOL_KEY!r} 'sum'/'threshold'); this one is "
        "not marked, and spyx_core runs no sum-pooling or threshold layer of its own",
    )


DECODERS: dict[type, Callable[[str, Any, float], Decoded]] = {
    nir.Linear: _decode_linear,
    nir.Affine: _decode_linear,
    nir.Conv2d: _decode_conv,
    nir.Flatten: _decode_flatten,
    nir.LIF: _decode_lif,
    nir.LI: _decode_li,
    nir.IF: _decode_if,
    nir.SumPool2d: _decode_alone,
    nir.Threshold: _decode_alone,
}


def decode(name: str, node: nir.NIRNode, dt: float) -> Decoded:
    """The layer that NIR node ``name`` describes on its own (a max-pool pair: ``decode_group``).

    Raises:
        NIRGraphError: an unknown node type, or parameters spyx_core cannot run (message says which).
    """
    decoder = DECODERS.get(type(node))
    if decoder is None:
        known = ", ".join(t.__name__ for t in DECODERS)
        raise NIRGraphError(name, f"unknown node type {type(node).__name__}; supported: {known}")
    return decoder(name, node, dt)


def _maxpool_part(node: nir.NIRNode) -> str | None:
    meta = getattr(node, "metadata", None) or {}
    return as_str(meta[MAXPOOL_KEY]) if MAXPOOL_KEY in meta else None


Named = tuple[str, nir.NIRNode]


def layer_groups(nodes: Sequence[Named]) -> list[tuple[Named, ...]]:
    """The nodes of a chain (Input and Output excluded) grouped into layers, in order.

    A SumPool2d marked ``"sum"`` and the Threshold marked ``"threshold"`` right after it form one
    max-pool layer; every other node is a layer of its own.

    Raises:
        NIRGraphError: a marked node whose partner does not follow (or precede) it.
    """
    groups: list[tuple[Named, ...]] = []
    index = 0
    while index < len(nodes):
        name, node = nodes[index]
        part = _maxpool_part(node)
        if part == "sum" and isinstance(node, nir.SumPool2d):
            after = nodes[index + 1] if index + 1 < len(nodes) else None
            if after is None or not (
                isinstance(after[1], nir.Threshold) and _maxpool_part(after[1]) == "threshold"
            ):
                found = "nothing" if after is None else f"{type(after[1]).__name__} {after[0]!r}"
                raise NIRGraphError(
                    name, f"max-pool SumPool2d is followed by {found}, not its marked Threshold"
                )
            groups.append((nodes[index], after))
            index += 2
            continue
        if part is not None:
            kind = type(node).__name__
            raise NIRGraphError(name, f"{kind} marked as the {part!r} of a max-pool stands alone")
        groups.append((nodes[index],))
        index += 1
    return groups


def _decode_maxpool(pool: Named, threshold: Named) -> Decoded:
    (pool_name, sum_node), (threshold_name, threshold_node) = pool, threshold
    kernel, stride = _pair(sum_node.kernel_size), _pair(sum_node.stride)
    if kernel[0] != kernel[1] or not np.array_equal(stride, kernel) or np.any(_pair(sum_node.padding)):
        raise NIRGraphError(
            pool_name,
            f"SumPool2d(kernel_size={kernel.tolist()}, stride={stride.tolist()}, padding="
            f"{_pair(sum_node.padding).tolist()}) is not a square, non-overlapping, unpadded pool",
        )
    level = _field(threshold_name, threshold_node, "threshold")
    if level.size == 0 or np.unique(level).size != 1 or not 0 <= level.flat[0] < 1:
        raise NIRGraphError(
            threshold_name,
            "a max-pool's Threshold must be one value in [0, 1) (the pair is the max of binary "
            f"spikes only then), found {np.unique(level)[:4].tolist()}",
        )
    return Decoded(MaxPoolLayer(kernel_size=int(kernel[0])), None)


def decode_group(group: tuple[Named, ...], dt: float) -> Decoded:
    """The layer that a group of ``layer_groups`` describes."""
    return _decode_maxpool(*group) if len(group) == 2 else decode(*group[0], dt)


def channel_gain(name: str, gain: np.ndarray) -> np.ndarray:
    """A per-neuron gain on a conv's ``(C, H, W)`` output as one factor per output channel.

    A kernel is shared by every position of its channel, so only a gain that is the same across
    each channel's map can be folded into it.

    Raises:
        NIRGraphError: the gain varies within a channel (names node ``name``).
    """
    flat = np.asarray(gain).reshape(gain.shape[0], -1)
    if not np.all(flat == flat[:, :1]):
        raise NIRGraphError(
            name,
            "its input gain varies within a channel's map; a Conv2d kernel holds one factor per "
            "output channel, so the gain cannot be folded into the convolution before it",
        )
    return flat[:, 0]


def part_name(layer: str, suffix: str) -> str:
    """The name of the node that holds part ``suffix`` of layer ``layer``'s encoding (``Encoded``)."""
    return f"{layer}.{suffix}" if suffix else layer


def encode(layer: Layer, shape: Shape, dt: float) -> dict[str, nir.NIRNode]:
    """The NIR node(s) of one layer record taking input ``shape``, by name suffix (``Encoded``)."""
    nodes = ENCODERS[type(layer)](layer, shape, dt)
    return nodes if isinstance(nodes, dict) else {"": nodes}
