"""Spike trains bit-packed along time: 8 time steps per byte, so a dataset fits on the device.

Packing runs once on the host (numpy); unpacking runs inside the compiled training step.
Layout: ``[N, T, ...]`` binary spikes <-> ``[N, ceil(T / 8), ...]`` uint8 (big-endian bit order).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def pack_time(spikes: np.ndarray) -> np.ndarray:
    """Packs binary spikes ``[N, T, ...]`` (any non-zero counts as a spike) along time."""
    return np.packbits(np.asarray(spikes) != 0, axis=1)


def unpack_time_numpy(packed: np.ndarray, time_steps: int) -> np.ndarray:
    """Host inverse of ``pack_time``: uint8 ``[N, T, ...]`` of zeros and ones."""
    return np.unpackbits(packed, axis=1, count=time_steps)


def unpack_time(packed: jax.Array, time_steps: int, dtype: jnp.dtype = jnp.float32) -> jax.Array:
    """Device inverse of ``pack_time`` that also moves time first: ``[T, B, ...]`` in ``dtype``."""
    spikes = jnp.unpackbits(packed, axis=1, count=time_steps)
    return jnp.moveaxis(spikes, 1, 0).astype(dtype)
