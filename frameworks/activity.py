"""What a network does on one batch at given weights: spike rates, readout size, synaptic operations.

Computed by the canonical forward (spyx_core's modules, ``spyx_core_adapter.modules``, run one
layer at a time by ``spyx_core.run_sequential`` so that every layer's output ``[T, B, ...]`` is
at hand), in float32 on the CPU: the same weights and batch give the same numbers whichever
framework trained them and wherever it ran. Per spiking layer (``Layer.spiking``) its spike rate:
spikes over neuron-time-steps of the batch. The LI readout's mean ``|u[t]|`` over time, batch and
classes. Synaptic operations per sample as NeuroBench's ``SynapticOperations`` counts them
(docs/activity.md):

- every synaptic connection set (a Linear's or Conv2d's weight, a recurrent layer's ``W_rec``
  fed by that layer's own spikes one step late) is called once per time step on the batch;
- a call whose input holds only 0 and +-1 (binary spikes) counts accumulates (ACs), any other
  (count-encoded input) multiply-accumulates (MACs);
- effective operations: every nonzero input entry drives its fan-out, the connections from it
  whose weight is nonzero (a conv's fan-out is border-exact: ``conv_fan_out``); Dense: every
  connection at every time step, zeros included;
- summed over connection sets and time steps, divided by the samples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

import spyx_core
from frameworks.adapters.spyx_core_adapter import modules
from frameworks.jax_base import MATMUL_PRECISION, to_haiku
from frameworks.spec import RIF, RLIF, Conv2d, Layer, Linear, ModelSpec, Shape, is_decay


@dataclass(frozen=True)
class SynOps:
    """Synaptic operations per sample (NeuroBench's ``Effective_MACs``, ``Effective_ACs``, ``Dense``)."""

    effective_macs: float
    effective_acs: float
    dense: float

    def __add__(self, other: SynOps) -> SynOps:
        return SynOps(
            self.effective_macs + other.effective_macs,
            self.effective_acs + other.effective_acs,
            self.dense + other.dense,
        )


@dataclass(frozen=True)
class Activity:
    """One network's activity on one batch (module docstring).

    Attributes:
        spike_rates: spiking layer name (``layer_label``) -> fraction of its neuron-time-steps
            that spike, over the batch.
        readout_abs_mean: the LI readout's mean ``|u[t]|``; None when the network ends with a
            spiking layer.
        synops: per sample, summed over the connection sets.
    """

    spike_rates: dict[str, float]
    readout_abs_mean: float | None
    synops: SynOps


def layer_label(spec: ModelSpec, index: int) -> str:
    """A layer's readable name: its index in the spec and its kind, e.g. ``"1.LIF"``."""
    return f"{index}.{type(spec.layers[index]).__name__}"


def matrix_fan_out(nonzero: np.ndarray, shape: Shape) -> np.ndarray:
    """Fan-out of every input of ``x @ W`` (``W`` ``[n_in, n_out]``): input ``j`` drives row ``j``'s
    nonzero entries. ``nonzero``: ``W != 0``; ``shape``: ``(n_in,)``."""
    return nonzero.sum(axis=1).reshape(shape)


def conv_fan_out(nonzero: np.ndarray, shape: Shape) -> np.ndarray:
    """Fan-out of every input position of a valid, stride-1 convolution (``frameworks.layers.Conv2d``).

    Output ``(p, q)`` reads input ``(p + a, q + b)`` through tap ``(a, b)``, so input ``(i, j)`` is
    read through that tap only when output ``(i - a, j - b)`` exists: positions near the border
    reach fewer outputs. ``nonzero``: ``W != 0`` ``[O, C, k, k]``; ``shape``: ``(C, H, W)``.
    """
    k = nonzero.shape[-1]
    rows, cols = shape[1] - k + 1, shape[2] - k + 1
    taps = nonzero.sum(axis=0)  # [C, k, k]: output channels each tap reaches
    fan_out = np.zeros(shape, np.int64)
    for a in range(k):
        for b in range(k):
            fan_out[:, a : a + rows, b : b + cols] += taps[:, a, b, None, None]
    return fan_out


class Connections(NamedTuple):
    """How a layer kind connects: its weight's parameter name, its fan-out map, and whether it
    feeds the layer's own spikes back (one step late) rather than taking the layer before."""

    parameter: str
    fan_out: Callable[[np.ndarray, Shape], np.ndarray]
    recurrent: bool = False


CONNECTIONS: dict[type[Layer], Connections] = {
    Linear: Connections("weight", matrix_fan_out),
    Conv2d: Connections("weight", conv_fan_out),
    RLIF: Connections("recurrent", matrix_fan_out, recurrent=True),
    RIF: Connections("recurrent", matrix_fan_out, recurrent=True),
}
"""Layer class -> its synaptic connections; a layer kind not here has none (neurons, pooling)."""


@dataclass(frozen=True)
class Synapse:
    """One connection set of a spec: where its input comes from and its fan-out maps."""

    index: int  # the layer it belongs to
    source: int  # the layer whose output is its input; -1: the network's input
    recurrent: bool
    shape: Shape  # its input's shape
    connections: Connections


def synapses(spec: ModelSpec) -> list[Synapse]:
    """The spec's connection sets, in layer order."""
    outputs = spec.shapes
    found = []
    for index, layer in enumerate(spec.layers):
        connections = CONNECTIONS.get(type(layer))
        if connections is None:
            continue
        source = index if connections.recurrent else index - 1
        shape = spec.input_shape if source < 0 else outputs[source]
        found.append(Synapse(index, source, connections.recurrent, shape, connections))
    return found


def input_hits(x: Any, xp: Any = np) -> tuple[Any, Any]:
    """Nonzero entries per input position of ``x`` ``[T, B, *shape]``, summed over time and batch:
    at the steps whose input is binary (all 0 or +-1, NeuroBench's test, made per call, i.e. per
    step over the batch) and at the others. Written against an array namespace ``xp`` (numpy, or
    ``jax.numpy`` inside a program); int32 (at most ``T * B`` each)."""
    within = tuple(range(1, x.ndim))
    binary = xp.all((x == 0) | (xp.abs(x) == 1), axis=within).reshape(-1, *(1,) * (x.ndim - 1))
    nonzero = x != 0
    return (
        xp.sum(nonzero & binary, axis=(0, 1), dtype=xp.int32),
        xp.sum(nonzero & ~binary, axis=(0, 1), dtype=xp.int32),
    )


def count_synops(
    connections: Connections,
    weight: np.ndarray,
    shape: Shape,
    hits: tuple[np.ndarray, np.ndarray],
    *,
    steps: int,
    samples: int,
) -> SynOps:
    """One connection set's operations per sample from its ``input_hits`` over ``steps`` calls on
    ``samples`` samples: effective ACs and MACs weight every hit by its fan-out through nonzero
    weights; Dense counts every connection at every step."""
    fan_out = connections.fan_out(np.asarray(weight) != 0, shape).astype(np.int64)
    dense = connections.fan_out(np.ones(np.shape(weight), bool), shape).astype(np.int64)
    acs, macs = (int(np.sum(np.asarray(h, np.int64) * fan_out)) for h in hits)
    return SynOps(macs / samples, acs / samples, steps * int(dense.sum()))


def layer_synops(layer: Layer, weight: np.ndarray, x: np.ndarray) -> SynOps:
    """The operations per sample of ``layer``'s connections (``CONNECTIONS``) given their input ``x``
    ``[T, B, *shape]`` at every call (for a recurrent layer: its spikes one step late)."""
    connections = CONNECTIONS[type(layer)]
    hits = input_hits(np.asarray(x))
    return count_synops(connections, weight, x.shape[2:], hits, steps=x.shape[0], samples=x.shape[1])


def measure_activity(
    spec: ModelSpec, spikes: np.ndarray, weight_sets: Sequence[dict[str, np.ndarray]]
) -> list[Activity]:
    """The activity of ``spec`` on ``spikes`` ``[B, T, *input_shape]`` at each of ``weight_sets``
    (canonical names), one program compiled for all of them.

    Raises:
        ValueError: the weight sets differ in a decay that is not trained (the program's constant).
    """
    if not weight_sets:
        return []
    fixed = weight_sets[0]
    for weights in weight_sets[1:]:
        for name in (n for n in fixed if is_decay(n) and not spec.train_beta):
            if not np.array_equal(weights[name], fixed[name]):
                raise ValueError(f"untrained decay {name} differs between the weight sets")
    found = synapses(spec)
    cpu = jax.devices("cpu")[0]
    with jax.default_device(cpu), jax.default_matmul_precision(MATMUL_PRECISION):
        program = jax.jit(_statistics(spec, fixed, found))
        x = jnp.asarray(np.moveaxis(spikes, 1, 0), jnp.float32)
        measured = [jax.device_get(program(to_haiku(spec, w), x)) for w in weight_sets]
    return [
        _activity(spec, found, weights, *m, x.shape)
        for weights, m in zip(weight_sets, measured, strict=True)
    ]


def _statistics(spec: ModelSpec, weights: dict[str, np.ndarray], found: list[Synapse]):
    """``statistics(params, x)``: per spiking layer its spike count per neuron, per connection set
    its ``input_hits``, and the readout's mean ``|u|`` (None after a spiking output layer)."""

    def forward(x: jax.Array) -> list[jax.Array]:
        outputs = []
        for module in modules(spec, weights):
            x = spyx_core.run_sequential([module], x, impl="layerwise")
            outputs.append(x)
        return outputs

    apply = hk.without_apply_rng(hk.transform(forward)).apply

    def statistics(params: hk.Params, x: jax.Array):
        outputs = apply(params, x)
        counts = [
            jnp.sum(out != 0, axis=(0, 1), dtype=jnp.int32)
            for out, layer in zip(outputs, spec.layers, strict=True)
            if layer.spiking
        ]
        hits = [input_hits(_input(synapse, x, outputs), jnp) for synapse in found]
        readout = None if spec.layers[-1].spiking else jnp.mean(jnp.abs(outputs[-1]))
        return counts, hits, readout

    return statistics


def _input(synapse: Synapse, x: jax.Array, outputs: list[jax.Array]) -> jax.Array:
    """A connection set's input at every call but those whose input is all zero: a recurrent
    layer's feedback at step ``t`` is its spikes of ``t - 1`` (none at step 0)."""
    source = x if synapse.source < 0 else outputs[synapse.source]
    return source[:-1] if synapse.recurrent else source


def _activity(
    spec: ModelSpec,
    found: list[Synapse],
    weights: dict[str, np.ndarray],
    counts: list[np.ndarray],
    hits: list[tuple[np.ndarray, np.ndarray]],
    readout: np.ndarray | None,
    shape: tuple[int, ...],
) -> Activity:
    """The ``Activity`` of one weight set from its program's ``statistics`` on input ``shape``."""
    steps, samples = shape[0], shape[1]
    spiking = [i for i, layer in enumerate(spec.layers) if layer.spiking]
    rates = {
        layer_label(spec, i): int(np.sum(count, dtype=np.int64)) / (steps * samples * count.size)
        for i, count in zip(spiking, counts, strict=True)
    }
    synops = SynOps(0.0, 0.0, 0.0)
    for synapse, hit in zip(found, hits, strict=True):
        weight = weights[f"{synapse.index}.{synapse.connections.parameter}"]
        synops += count_synops(
            synapse.connections, weight, synapse.shape, hit, steps=steps, samples=samples
        )
    return Activity(rates, None if readout is None else float(readout), synops)
