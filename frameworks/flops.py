"""The FLOPs of one training step, derived from the spec: its matmuls and convolutions.

A *synaptic op* is one matmul or convolution that a step runs (``SynapticOp``). Every synaptic
layer (``Linear``, ``Conv2d``, and the recurrent weight of ``RLIF`` and ``RIF``) gives:

- a **forward** op: ``x @ W`` on all ``B * T`` rows at once (a convolution on all ``B * T``
  frames), or, for a recurrent weight, ``T`` sequential ``[B, n] @ [n, n]`` products (each step
  needs the spikes of the step before);
- a **weight gradient** (``x^T @ dy``): the same FLOPs as its forward; a recurrent weight's is one
  ``[n, B * T] @ [B * T, n]`` product, since every step's spikes and gradients are known by then;
- an **input gradient** (``dy @ W^T``), also the same FLOPs, for every synaptic layer but the
  first: the network's input is data, which needs no gradient. A recurrent weight's input is the
  spikes, so it always has one (``T`` sequential products, as its forward).

A multiply-add is 2 FLOPs, so a ``[M, K] @ [K, N]`` product is ``2 M K N`` and a valid ``k x k``
convolution of ``C`` channels to ``O`` is ``2 * frames * O * H' * W' * C * k * k`` (``H' W'`` its
output size). Elementwise work (neurons, surrogate, pooling, loss, optimiser) is not counted: it is
a few FLOPs per neuron and step beside the ``2 n_in`` per neuron and step of a dense layer
(docs/limits.md). The micro-benchmark's forward call is ``forward_flops``, its forward+backward
call ``step_flops``: the same rule, its one layer's input being data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from frameworks.spec import RIF, RLIF, Conv2d, Layer, Linear, ModelSpec, Shape

ROLES = ("forward", "weight_grad", "input_grad")
"""What a synaptic op computes: the layer's output, its weight's gradient, its input's gradient."""
KINDS = ("matmul", "conv")


@dataclass(frozen=True)
class SynapticOp:
    """One matmul or convolution of a training step, ``repeats`` times per step.

    ``shape`` is always the forward's: a matmul's ``(M, K, N)`` (``x [M, K] @ W [K, N]``; the weight
    gradient is ``x^T @ dy``, the input gradient ``dy @ W^T``, both ``2 M K N`` FLOPs too), a
    convolution's ``(frames, C, H, W, O, k)`` (input ``[frames, C, H, W]``, kernel ``[O, C, k, k]``).
    """

    layer: int
    role: str
    kind: str
    shape: tuple[int, ...]
    repeats: int = 1

    def __post_init__(self) -> None:
        if self.role not in ROLES or self.kind not in KINDS:
            raise ValueError(f"role must be one of {ROLES} and kind one of {KINDS}: {self}")

    @property
    def call_flops(self) -> int:
        """FLOPs of one call (``2 x`` its multiply-adds)."""
        if self.kind == "matmul":
            m, k, n = self.shape
            return 2 * m * k * n
        frames, channels, height, width, out, size = self.shape
        return 2 * frames * out * (height - size + 1) * (width - size + 1) * channels * size * size

    @property
    def flops(self) -> int:
        """FLOPs per step: ``call_flops * repeats``."""
        return self.call_flops * self.repeats

    def key(self) -> str:
        """What its time depends on (kind, role, shape): ops of equal keys are timed once."""
        return f"{self.kind}:{self.role}:" + "x".join(map(str, self.shape))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (the result rows' ``synaptic_ops``), its FLOPs included."""
        return {"layer": self.layer, "role": self.role, "kind": self.kind, "shape": list(self.shape),
                "repeats": self.repeats, "flops": self.flops}  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynapticOp:
        """Inverse of ``to_dict`` (``flops`` is derived, not read)."""
        return cls(data["layer"], data["role"], data["kind"], tuple(data["shape"]), data["repeats"])


@dataclass(frozen=True)
class _Synapse:
    """A layer's weight as the ops see it: kind, forward shape and repeats, weight-gradient ones."""

    kind: str
    shape: tuple[int, ...]
    repeats: int
    grad_shape: tuple[int, ...]
    grad_repeats: int
    data_fed: bool  # whether its input can be the network's input (then it needs no input grad)


def _linear(layer: Linear, shape: Shape, batch: int, steps: int) -> _Synapse:
    forward = (batch * steps, layer.n_in, layer.n_out)
    return _Synapse("matmul", forward, 1, forward, 1, data_fed=True)


def _conv(layer: Conv2d, shape: Shape, batch: int, steps: int) -> _Synapse:
    forward = (batch * steps, *shape, layer.out_channels, layer.kernel_size)
    return _Synapse("conv", forward, 1, forward, 1, data_fed=True)


def _recurrent(layer: RLIF | RIF, shape: Shape, batch: int, steps: int) -> _Synapse:
    n = layer.shape[0]
    return _Synapse("matmul", (batch, n, n), steps, (batch * steps, n, n), 1, data_fed=False)


SYNAPSES: dict[type[Layer], Callable[[Any, Shape, int, int], _Synapse]] = {
    Linear: _linear,
    Conv2d: _conv,
    RLIF: _recurrent,
    RIF: _recurrent,
}
"""Layer class -> its weight's ops, from the layer, its input shape, ``B`` and ``T``. Every other
layer has no weight that multiplies (decays are elementwise)."""


def synaptic_ops(spec: ModelSpec, batch_size: int, *, backward: bool = True) -> list[SynapticOp]:
    """The matmuls and convolutions of one step of ``spec`` at ``batch_size`` (module docstring):
    every forward op in layer order, then, with ``backward``, the gradients from the last layer."""
    inputs = [spec.input_shape, *spec.shapes[:-1]]
    synapses = [
        (index, SYNAPSES[type(layer)](layer, shape, batch_size, spec.time_steps))
        for index, (layer, shape) in enumerate(zip(spec.layers, inputs, strict=True))
        if type(layer) in SYNAPSES
    ]
    ops = [SynapticOp(i, "forward", s.kind, s.shape, s.repeats) for i, s in synapses]
    if not backward:
        return ops
    first_fed = next((i for i, s in synapses if s.data_fed), None)
    for index, synapse in reversed(synapses):
        if not synapse.data_fed or index != first_fed:
            ops.append(SynapticOp(index, "input_grad", synapse.kind, synapse.shape, synapse.repeats))
        grad = SynapticOp(index, "weight_grad", synapse.kind, synapse.grad_shape, synapse.grad_repeats)
        ops.append(grad)
    return ops


def total_flops(ops: list[SynapticOp]) -> int:
    """FLOPs per step of ``ops``."""
    return int(np.sum([op.flops for op in ops], dtype=np.int64))


def forward_flops(spec: ModelSpec, batch_size: int) -> int:
    """FLOPs of the forward pass (the micro-benchmark's forward call)."""
    return total_flops(synaptic_ops(spec, batch_size, backward=False))


def step_flops(spec: ModelSpec, batch_size: int) -> int:
    """FLOPs of one training step's matmuls and convolutions, forward and backward (the
    micro-benchmark's forward+backward call)."""
    return total_flops(synaptic_ops(spec, batch_size))
