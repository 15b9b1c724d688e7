"""Running a feed-forward stack of layers and neuron cores over time.

Two implementations compute the same function on a time-major input ``[T, B, ...]``:

* ``"scan"``: the way Spyx does it. All layers form one ``hk.DeepRNN``; one ``lax.scan`` steps
  through time and runs every layer at every step (``T`` sequential steps of small matmuls).
* ``"layerwise"``: one layer at a time. A stateless layer (Linear, Conv, ...) runs on all ``T``
  steps at once as one large operation; only a neuron core's recurrence is scanned over time.
  Valid because the network is feed-forward: no layer needs a later layer's state.

With ``return_counts=True`` either one also returns every spiking core's spike count, summed over
time, from the same forward pass (for activity regularisers, ``_regularise.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import haiku as hk
import jax

Layer = Callable[[jax.Array], jax.Array] | hk.RNNCore
Impl = Literal["scan", "layerwise"]
IMPLEMENTATIONS: tuple[str, ...] = ("scan", "layerwise")


def run_sequential(
    layers: Sequence[Layer],
    x: jax.Array,
    *,
    impl: Impl = "layerwise",
    unroll: int = 1,
    return_counts: bool = False,
) -> jax.Array | tuple[jax.Array, list[jax.Array]]:
    """Applies ``layers`` in order to ``x`` ``[T, B, ...]`` and returns the last output ``[T, B, ...]``.

    Must run inside ``hk.transform``. Neuron cores start from ``initial_state(B)``.

    Args:
        layers: stateless callables on ``[B, ...]`` and ``hk.RNNCore`` neurons.
        x: time-major input.
        impl: ``"scan"`` or ``"layerwise"`` (module docstring).
        unroll: ``lax.scan`` unroll factor of each time loop.
        return_counts: also return the spike counts of every spiking core (``spiking`` true).

    Returns:
        The last output; with ``return_counts``, ``(output, counts)`` where ``counts`` holds one
        ``[B, *size]`` array per spiking core, in layer order: its spikes summed over time.

    Raises:
        ValueError: unknown ``impl``.
    """
    if impl not in IMPLEMENTATIONS:
        raise ValueError(f"unknown impl {impl!r}; choose one of: {', '.join(IMPLEMENTATIONS)}")
    batch = x.shape[1]
    if return_counts:
        return _run_counting(layers, x, batch, impl=impl, unroll=unroll)
    if impl == "scan":
        core = hk.DeepRNN(list(layers))
        out, _ = hk.dynamic_unroll(core, x, core.initial_state(batch), unroll=unroll)
        return out
    for layer in layers:
        if isinstance(layer, hk.RNNCore):
            x, _ = hk.dynamic_unroll(layer, x, layer.initial_state(batch), unroll=unroll)
        else:
            x = hk.BatchApply(layer)(x)
    return x


def _spiking(layer: Layer) -> bool:
    return isinstance(layer, hk.RNNCore) and getattr(layer, "spiking", False)


def _run_counting(
    layers: Sequence[Layer], x: jax.Array, batch: int, *, impl: Impl, unroll: int
) -> tuple[jax.Array, list[jax.Array]]:
    """``run_sequential`` that also taps every spiking core's output."""
    if impl == "layerwise":
        counts = []
        for layer in layers:
            if isinstance(layer, hk.RNNCore):
                x, _ = hk.dynamic_unroll(layer, x, layer.initial_state(batch), unroll=unroll)
                if _spiking(layer):
                    counts.append(x.sum(axis=0))
            else:
                x = hk.BatchApply(layer)(x)
        return x, counts
    cores = [layer for layer in layers if isinstance(layer, hk.RNNCore)]

    def step(x_t: jax.Array, states: tuple[Any, ...]):
        # hk.DeepRNN's step, also emitting the spikes of each spiking core.
        taps, next_states, remaining = [], [], iter(states)
        for layer in layers:
            if isinstance(layer, hk.RNNCore):
                x_t, state = layer(x_t, next(remaining))
                next_states.append(state)
                if _spiking(layer):
                    taps.append(x_t)
            else:
                x_t = layer(x_t)
        return (x_t, tuple(taps)), tuple(next_states)

    initial = tuple(core.initial_state(batch) for core in cores)
    (out, taps), _ = hk.dynamic_unroll(step, x, initial, unroll=unroll)
    return out, [tap.sum(axis=0) for tap in taps]
