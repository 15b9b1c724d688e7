"""Augmentation and input encodings that run on the device, inside the compiled training step.

Augmentations take a PRNG key and time-major spikes ``[T, B, ...]`` (right after unpacking) and
return an array of the same shape and dtype; ``make_trainer(augment=...)`` calls one per step with
a key folded from the epoch's key, so every draw is made inside the program, never on the host:

* ``shift_channels``: each sample's channels move by one random integer in
  ``[-max_shift, max_shift]``, zero-filled. Spyx's ``shift_augment`` (``jnp.roll`` by one shift per
  batch); here one shift per sample, and no wrap-around, because the channels of SHD are a
  cochlear frequency axis, whose top and bottom are not neighbours.
* ``jitter_time``: each (sample, channel) spike train moves in time by its own random integer in
  ``[-max_shift, max_shift]``, zero-filled: the relative timing across channels jitters while each
  train keeps its shape (a raster version of tonic's ``TimeJitter``).

Encodings turn dense inputs ``x`` ``[B, ...]`` into spikes ``[T, B, ...]`` (float32):

* ``rate_code``: Bernoulli spikes with probability ``max_rate * clip(x, 0, 1)`` at every step
  (Spyx's ``rate_code``, whose ``max_r`` is 0.75).
* ``latency_code``: one spike per input at ``t = round((1 - clip(x, 0, 1)) * (T - 1))`` (larger
  values fire earlier); inputs ``<= threshold`` never fire (Spyx's ``latency_code``).
* ``angle_code``: a one-hot population code: the value range ``[low, high]`` is split by
  ``neurons`` evenly spaced edges and the neuron whose bin holds ``x`` fires at every step; values
  outside the range go to the first or last neuron (Spyx's ``angle_code``, repeated over time).
  Output ``[T, B, ..., neurons]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

Augment = Callable[[jax.Array, jax.Array], jax.Array]
"""``augment(key, x [T, B, ...]) -> x'`` of the same shape and dtype."""


def _shift(x: jax.Array, offset: jax.Array, axis: int) -> jax.Array:
    """``out[.., i, ..] = x[.., i - offset, ..]`` along ``axis``, zero where ``i - offset`` is outside.

    ``offset`` is an integer array of ``x``'s rank (size 1 along ``axis`` and any shared axis).
    """
    n = x.shape[axis]
    position_shape = [1] * x.ndim
    position_shape[axis] = n
    position = jnp.arange(n).reshape(position_shape)
    source = jnp.broadcast_to(position, x.shape) - jnp.broadcast_to(offset, x.shape)
    inside = (source >= 0) & (source < n)
    moved = jnp.take_along_axis(x, jnp.clip(source, 0, n - 1), axis=axis)
    return jnp.where(inside, moved, jnp.zeros_like(moved))


def _offsets(key: jax.Array, shape: Sequence[int], max_shift: int) -> jax.Array:
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    return jax.random.randint(key, tuple(shape), -max_shift, max_shift + 1)


def shift_channels(key: jax.Array, spikes: jax.Array, max_shift: int, *, axis: int = -1) -> jax.Array:
    """Shifts the channel axis of each sample by a random integer, zero-filled (module docstring).

    Args:
        key: PRNG key.
        spikes: ``[T, B, ...]``.
        max_shift: largest shift, in channels, either way.
        axis: the channel axis (default: the last).

    Returns:
        ``spikes`` shifted, same shape and dtype.
    """
    axis = axis % spikes.ndim
    if axis < 2:
        raise ValueError(f"axis {axis} is time or batch; spikes are [T, B, ...]")
    shape = [1] * spikes.ndim
    shape[1] = spikes.shape[1]
    return _shift(spikes, _offsets(key, shape, max_shift), axis)


def jitter_time(key: jax.Array, spikes: jax.Array, max_shift: int) -> jax.Array:
    """Shifts every (sample, channel) spike train in time by its own random integer, zero-filled.

    Args:
        key: PRNG key.
        spikes: ``[T, B, ...]``.
        max_shift: largest shift, in time steps, either way.

    Returns:
        ``spikes`` jittered, same shape and dtype.
    """
    return _shift(spikes, _offsets(key, (1, *spikes.shape[1:]), max_shift), 0)


def chain_augments(*augments: Augment) -> Augment:
    """One augmentation applying ``augments`` in order, each with a key split from the given one."""

    def apply(key: jax.Array, x: jax.Array) -> jax.Array:
        for sub, augment in zip(jax.random.split(key, len(augments)), augments, strict=True):
            x = augment(sub, x)
        return x

    return apply


def rate_code(key: jax.Array, x: jax.Array, time_steps: int, *, max_rate: float = 0.75) -> jax.Array:
    """Rate code: Bernoulli spikes with probability ``max_rate * clip(x, 0, 1)`` per step.

    Args:
        key: PRNG key.
        x: dense inputs ``[B, ...]``.
        time_steps: ``T``.
        max_rate: spike probability of an input of 1.

    Returns:
        float32 spikes ``[T, B, ...]``.
    """
    p = max_rate * jnp.clip(x.astype(jnp.float32), 0.0, 1.0)
    p = jnp.broadcast_to(p[None], (time_steps, *x.shape))
    return jax.random.bernoulli(key, p).astype(jnp.float32)


def latency_code(x: jax.Array, time_steps: int, *, threshold: float = 0.01) -> jax.Array:
    """Latency (time-to-first-spike) code: one spike per input, earlier for larger values.

    Args:
        x: dense inputs ``[B, ...]``, meaningful in ``[0, 1]``.
        time_steps: ``T``.
        threshold: inputs ``<= threshold`` stay silent.

    Returns:
        float32 spikes ``[T, B, ...]``.
    """
    x = jnp.clip(x.astype(jnp.float32), 0.0, 1.0)
    when = jnp.round((1.0 - x) * (time_steps - 1)).astype(jnp.int32)
    steps = jnp.arange(time_steps).reshape((time_steps,) + (1,) * x.ndim)
    fire = (jnp.broadcast_to(steps, (time_steps, *x.shape)) == when[None]) & (x > threshold)[None]
    return fire.astype(jnp.float32)


def angle_code(x: jax.Array, time_steps: int, *, neurons: int, low: float, high: float) -> jax.Array:
    """One-hot population code of a bounded value, repeated at every step (module docstring).

    Args:
        x: dense inputs ``[B, ...]``.
        time_steps: ``T``.
        neurons: population size per input.
        low: value of the first edge.
        high: value of the last edge.

    Returns:
        float32 spikes ``[T, B, ..., neurons]``.
    """
    edges = jnp.linspace(low, high, neurons)
    index = jnp.clip(jnp.digitize(x, edges) - 1, 0, neurons - 1)
    onehot = jax.nn.one_hot(index, neurons, dtype=jnp.float32)
    return jnp.broadcast_to(onehot[None], (time_steps, *onehot.shape))
