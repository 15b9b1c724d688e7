"""Spike trains bit-packed along time: 8 time steps per byte, so a dataset fits on the device.

Packing runs once on the host (numpy); unpacking runs inside the compiled training step.

* Binary spikes ``[N, T, ...]`` <-> ``[N, ceil(T / 8), ...]`` uint8 (big-endian bit order).
* Spike counts ``[N, T, ...]`` (N-MNIST frames) <-> bit planes ``[N, K, ceil(T / 8), ...]``: plane
  ``k`` holds bit ``k`` of every count, packed along time as above, and ``K`` is the number of bits
  of the largest count. Exact, and ``K / 8`` bytes per count instead of one (K is 2-3 in practice).
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


def pack_counts(counts: np.ndarray) -> np.ndarray:
    """Packs uint8 spike counts ``[N, T, ...]`` into time-packed bit planes (module docstring)."""
    counts = np.asarray(counts, np.uint8)
    planes = max(1, int(counts.max(initial=0)).bit_length())
    return np.stack([np.packbits((counts >> k) & 1, axis=1) for k in range(planes)], axis=1)


def unpack_counts(planes: jax.Array, time_steps: int, dtype: jnp.dtype = jnp.float32) -> jax.Array:
    """Device inverse of ``pack_counts``, time first: counts ``[T, B, ...]`` in ``dtype``."""
    bits = jnp.unpackbits(planes, axis=2, count=time_steps).astype(dtype)  # [B, K, T, ...]
    scale = (2.0 ** jnp.arange(planes.shape[1], dtype=dtype)).reshape((1, -1) + (1,) * (bits.ndim - 2))
    return jnp.moveaxis((bits * scale).sum(axis=1), 1, 0)
