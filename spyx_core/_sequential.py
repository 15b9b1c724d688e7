"""Running a feed-forward stack of layers and neuron cores over time.

Four implementations compute the same function on a time-major input ``[T, B, ...]``:

* ``"scan"``: the way Spyx does it. All layers form one ``hk.DeepRNN``; one ``lax.scan`` steps
  through time and runs every layer at every step (``T`` sequential steps of small matmuls).
* ``"layerwise"``: one layer at a time. A stateless layer (Linear, Conv, ...) runs on all ``T``
  steps at once as one large operation; only a neuron core's recurrence is scanned over time.
  Valid because the network is feed-forward: no layer needs a later layer's state.
* ``"fused"``: ``"layerwise"``, and every core with a ``membrane`` method (LIF, IF, LI) runs its
  recurrence as one operation with a hand-written backward (``_fused.py``) that stores only the
  membranes. The spikes and the stateless layers after them run in a rematerialised region
  (``hk.remat``): the backward recomputes the spikes from the stored membranes instead of keeping
  them (and the surrogate's input) for every step. Other cores run as in ``"layerwise"``.
* ``"fused_spikes"``: ``"fused"``, and every spiking core with a ``spikes`` method (LIF, IF) returns
  its spikes from the fused operation (``_fused.spike_sequence``), whose backward applies the
  surrogate derivative inside its reverse loop: one pass over ``[T, B, ...]`` per spiking layer
  fewer in each direction than ``"fused"``'s separate spike and surrogate passes, same values.

With ``remat_chunk=K`` any of them runs the sequence in pieces of ``K`` steps, each piece
rematerialised (``hk.remat``): the forward keeps only every core's state at the cuts, and the
backward recomputes one piece at a time. Activation memory falls from ``T`` steps to ``K`` steps
(plus ``T / K`` states) for about one more forward pass: the option for long sequences.

With ``return_counts=True`` each one also returns every spiking core's spike count, summed over
time, from the same forward pass (for activity regularisers, ``_regularise.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Literal

import haiku as hk
import jax
import jax.numpy as jnp

Layer = Callable[[jax.Array], jax.Array] | hk.RNNCore
Impl = Literal["scan", "layerwise", "fused", "fused_spikes"]
IMPLEMENTATIONS: tuple[str, ...] = ("scan", "layerwise", "fused", "fused_spikes")
States = tuple[Any, ...]


def run_sequential(
    layers: Sequence[Layer],
    x: jax.Array,
    *,
    impl: Impl = "fused",
    unroll: int = 1,
    return_counts: bool = False,
    remat_chunk: int | None = None,
) -> jax.Array | tuple[jax.Array, list[jax.Array]]:
    """Applies ``layers`` in order to ``x`` ``[T, B, ...]`` and returns the last output ``[T, B, ...]``.

    Must run inside ``hk.transform``. Neuron cores start from ``initial_state(B)``.

    Args:
        layers: stateless callables on ``[B, ...]`` and ``hk.RNNCore`` neurons.
        x: time-major input.
        impl: ``"scan"``, ``"layerwise"``, ``"fused"`` or ``"fused_spikes"`` (module docstring).
        unroll: unroll factor of each time loop (Spyx uses 32 with ``"scan"``; the ``"fused"``
            loops update their buffers in place, which unrolling defeats on the CPU: keep 1 there).
        return_counts: also return the spike counts of every spiking core (``spiking`` true).
        remat_chunk: rematerialise pieces of this many steps (module docstring).

    Returns:
        The last output; with ``return_counts``, ``(output, counts)`` where ``counts`` holds one
        ``[B, *size]`` array per spiking core, in layer order: its spikes summed over time.

    Raises:
        ValueError: unknown ``impl``, or a ``remat_chunk`` below 1.
    """
    if impl not in IMPLEMENTATIONS:
        raise ValueError(f"unknown impl {impl!r}; choose one of: {', '.join(IMPLEMENTATIONS)}")
    if impl == "scan":
        run = functools.partial(_run_scan, layers, unroll)
    else:
        run = functools.partial(_run_layerwise, layers, unroll, fused=impl.startswith("fused"),
                                spikes=impl == "fused_spikes")  # fmt: skip
    states = tuple(layer.initial_state(x.shape[1]) for layer in layers if _is_core(layer))
    if remat_chunk is None:
        out, _, counts = run(x, states)
    else:
        out, counts = _run_in_pieces(run, x, states, remat_chunk)
    return (out, counts) if return_counts else out


def _is_core(layer: Layer) -> bool:
    return isinstance(layer, hk.RNNCore)


def _spiking(layer: Layer) -> bool:
    return _is_core(layer) and getattr(layer, "spiking", False)


Run = Callable[[jax.Array, States], tuple[jax.Array, States, list[jax.Array]]]
"""``run(x, states) -> (output, final states, spike counts)``: the network on one piece of time."""


def _run_in_pieces(run: Run, x: jax.Array, states: States, chunk: int):
    """``run`` over consecutive pieces of ``chunk`` steps (the last one shorter when ``chunk`` does
    not divide ``T``), each rematerialised, the cores' states carried from piece to piece."""
    if chunk < 1:
        raise ValueError(f"remat_chunk must be positive, got {chunk}")
    steps = x.shape[0]
    whole = steps // chunk * chunk
    outs, counts = [], []

    def piece(states: States, x_piece: jax.Array):
        out, states, piece_counts = run(x_piece, states)
        return states, (out, piece_counts)

    if whole:
        pieces = x[:whole].reshape(steps // chunk, chunk, *x.shape[1:])
        states, (out, piece_counts) = hk.scan(hk.remat(piece), states, pieces)
        outs.append(out.reshape(whole, *out.shape[2:]))
        counts.append([count.sum(axis=0) for count in piece_counts])
    if whole < steps:
        _, (out, piece_counts) = hk.remat(piece)(states, x[whole:])
        outs.append(out)
        counts.append(piece_counts)
    total = [sum(layer_counts) for layer_counts in zip(*counts, strict=True)]
    return jnp.concatenate(outs) if len(outs) > 1 else outs[0], total


def _run_layerwise(
    layers: Sequence[Layer], unroll: int, x: jax.Array, states: States, *, fused: bool, spikes: bool
):
    """One layer at a time (``"layerwise"``; ``fused``: with the cores' ``membrane`` method;
    ``spikes``: a spiking core's ``spikes`` method)."""
    counts, finals = [], []
    remaining, initial = list(layers), iter(states)
    while remaining:
        layer = remaining.pop(0)
        if not _is_core(layer):
            x = hk.BatchApply(layer)(x)
            continue
        if spikes and _spiking(layer) and hasattr(layer, "spikes"):
            x, state = layer.spikes(x, next(initial), unroll=unroll)
            counts.append(x.sum(axis=0))
        elif fused and hasattr(layer, "membrane"):
            x, state = layer.membrane(x, next(initial), unroll=unroll)
            if _spiking(layer):
                stateless = _leading_stateless(remaining)
                del remaining[: len(stateless)]
                x, count = hk.remat(functools.partial(_fire, layer, stateless))(x)
                counts.append(count)
        else:
            x, state = hk.dynamic_unroll(layer, x, next(initial), unroll=unroll)
            if _spiking(layer):
                counts.append(x.sum(axis=0))
        finals.append(state)
    return x, tuple(finals), counts


def _leading_stateless(layers: Sequence[Layer]) -> list[Layer]:
    """The stateless layers at the front of ``layers``, up to the next core."""
    stateless = []
    for layer in layers:
        if _is_core(layer):
            break
        stateless.append(layer)
    return stateless


def _fire(core: Any, stateless: Sequence[Layer], v: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The spikes of membranes ``v`` through the ``stateless`` layers after them, and their count."""
    x = spikes = core.fire(v)
    for layer in stateless:
        x = hk.BatchApply(layer)(x)
    return x, spikes.sum(axis=0)


def _run_scan(layers: Sequence[Layer], unroll: int, x: jax.Array, states: States):
    """All layers stepped together by one ``lax.scan``, also tapping every spiking core's output."""

    def step(x_t: jax.Array, states: States):
        # hk.DeepRNN's step, also emitting the spikes of each spiking core.
        taps, next_states, remaining = [], [], iter(states)
        for layer in layers:
            if _is_core(layer):
                x_t, state = layer(x_t, next(remaining))
                next_states.append(state)
                if _spiking(layer):
                    taps.append(x_t)
            else:
                x_t = layer(x_t)
        return (x_t, tuple(taps)), tuple(next_states)

    (out, taps), finals = hk.dynamic_unroll(step, x, states, unroll=unroll)
    return out, finals, [tap.sum(axis=0) for tap in taps]
