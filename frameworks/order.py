"""The order in which every framework visits the samples: the same in each, for every epoch.

A counter-based hash (murmur3's 32-bit finaliser, a bijection on uint32) gives each sample a key;
sorting the keys gives the permutation. Written against an array namespace ``xp`` so that
spyx_core runs it on the device (``jax.numpy``) and the torch adapters on the host (``numpy``),
with identical results.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _fmix32(h: Any, xp: Any) -> Any:
    h = h ^ (h >> 16)
    h = h * xp.uint32(0x85EBCA6B)
    h = h ^ (h >> 13)
    h = h * xp.uint32(0xC2B2AE35)
    return h ^ (h >> 16)


def epoch_key(seed: int, epoch: int) -> np.uint32:
    """One uint32 key per (seed, epoch)."""
    # A one-element array, not a numpy scalar: array arithmetic wraps silently, scalars warn.
    start = np.array([(seed * 0x9E3779B1 + epoch) & 0xFFFFFFFF], dtype=np.uint32)
    return _fmix32(start, np)[0]


def permutation_from_key(key: Any, n: int, xp: Any = np) -> Any:
    """A permutation of ``arange(n)`` determined by the uint32 ``key``."""
    index = xp.arange(n, dtype=xp.uint32)
    return xp.argsort(_fmix32(index + xp.uint32(key), xp), stable=True)


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The sample order of ``epoch`` for a run seeded with ``seed`` (numpy)."""
    return permutation_from_key(epoch_key(seed, epoch), n, np)
