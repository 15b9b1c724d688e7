"""Synthetic twins: seeded spike datasets with the shapes and rough statistics of the real ones.

They exist so that speed can be measured anywhere, offline. Each class has its own band of
channels and its own time course, so a network can learn them (accuracy on a twin shows that
training works; it says nothing about accuracy on the real data).
"""

from __future__ import annotations

import numpy as np

from frameworks.adapter import SpikeData
from spyx_core import pack_time

SHD_CLASSES = 20
_CHUNK = 256  # samples generated at once: bounds memory at paper sizes


def _class_rates(rng, n_classes: int, time_steps: int, channels: int, density: float):
    """Per-class firing probability ``[K, T, C]`` whose mean over everything is ``density``."""
    t = np.linspace(0.0, 1.0, time_steps)[:, None]
    c = np.arange(channels)[None, :]
    rates = np.empty((n_classes, time_steps, channels), np.float32)
    for k in range(n_classes):
        centre = (k + 0.5) / n_classes * channels
        width = channels / 12
        drift = rng.uniform(-0.3, 0.3) * channels  # the band moves over time, like a formant
        onset, duration = rng.uniform(0.05, 0.3), rng.uniform(0.3, 0.6)
        envelope = np.exp(-0.5 * ((t - onset - duration / 2) / (duration / 2)) ** 2)
        band = np.exp(-0.5 * ((c - centre - drift * t) / width) ** 2)
        rates[k] = 0.25 + band * envelope * 4.0
    return np.clip(rates * (density / rates.mean()), 0.0, 1.0)


def synthetic_shd(
    *,
    n_samples: int = 8156,
    time_steps: int = 256,
    channels: int = 128,
    density: float = 0.05,
    seed: int = 0,
) -> SpikeData:
    """A synthetic twin of the paper's SHD train set (binary spikes ``[N, T, C]``, 20 classes).

    Deterministic in ``seed``; labels cycle through the classes in a shuffled order.
    """
    if min(n_samples, time_steps, channels) < 1 or not 0 < density < 1:
        raise ValueError("n_samples, time_steps and channels must be >= 1, density in (0, 1)")
    rng = np.random.default_rng(seed)
    rates = _class_rates(rng, SHD_CLASSES, time_steps, channels, density)
    labels = rng.permutation(np.arange(n_samples) % SHD_CLASSES).astype(np.int32)
    packed = np.empty((n_samples, -(-time_steps // 8), channels), np.uint8)
    for start in range(0, n_samples, _CHUNK):
        chunk = labels[start : start + _CHUNK]
        draws = rng.random((len(chunk), time_steps, channels), dtype=np.float32)
        packed[start : start + _CHUNK] = pack_time(draws < rates[chunk])
    return SpikeData(packed, labels, time_steps, kind="synthetic", name="shd")
