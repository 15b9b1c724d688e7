"""Synthetic twins: seeded spike datasets with the shapes, classes and rates of the real ones.

They exist so that speed can be measured anywhere, offline. A twin is drawn from a statistics
record (``statistics.py``): the rate of cell (t, c) for class k is

    rate_k(t, c) = time_rate[t] * channel_rate[c] / mean(channel_rate) * m_k(t, c)
    m_k = 1 + depth/2 * (sin(theta_1 + 2 pi k / K) + sin(theta_2 + 2 pi s k / K))

with theta_1 a grating over the input's last axis, theta_2 one over its other axis that also
drifts with time, and s coprime with K. The sines cancel over the K classes, so with balanced
classes the twin keeps the record's per-time-step and per-channel rates (and mean density); the
phases make every class a distinct, learnable pattern (accuracy on a twin shows that training
works, it says nothing about accuracy on the real data). Binary twins draw Bernoulli spikes
(rate clipped to 1); count twins draw Poisson counts (saturating at 255), sampled sparsely.
"""

from __future__ import annotations

import math

import numpy as np

from frameworks.adapter import SpikeData
from harness.datasets.statistics import shipped_statistics

DEPTH = 0.8  # class modulation: every cell's rate varies between 0.2x and 1.8x across classes
SPLIT_STREAMS = {"train": 0, "test": 1}  # train and test twins of one seed draw different samples
_BITS_BLOCK = 256
_COUNTS_BLOCK = 64


def twin(
    statistics: dict,
    *,
    split: str = "train",
    n_samples: int | None = None,
    time_steps: int | None = None,
    channels: int | None = None,
    density: float | None = None,
    seed: int = 0,
) -> SpikeData:
    """A synthetic dataset drawn from a statistics record.

    Args:
        statistics: a record (``read_statistics``, ``shipped_statistics``, ``fit_statistics``).
        split: whose size and class counts to copy.
        n_samples: samples to draw (default: the split's size).
        time_steps: ``T`` (default: the record's); the time profile is resampled as if the same
            recordings were binned into ``T`` steps (``_resample_time``): fewer, wider binary
            steps are denser.
        channels: for 1-D inputs only, resample the channel profile to this many channels.
        density: rescale the rates to this mean (default: the record's).
        seed: everything is deterministic in ``seed`` (and ``split``).

    Returns:
        ``SpikeData`` with ``kind="synthetic"``, named after the record's task.
    """
    steps = time_steps or statistics["time_steps"]
    shape = tuple(statistics["input_shape"])
    split_info = statistics["splits"].get(split) or next(iter(statistics["splits"].values()))
    n = split_info["n_samples"] if n_samples is None else n_samples
    if n < 1 or steps < 1 or (density is not None and not 0 < density < 1):
        raise ValueError("n_samples and time_steps must be >= 1, density in (0, 1)")
    time_rate = _resample_time(statistics["time_rate"], steps, binary=statistics["encoding"] == "bits")
    channel_rate = np.asarray(statistics["channel_rate"], np.float64)
    if channels is not None and (channels,) != shape:
        if len(shape) != 1:
            raise ValueError(f"channels applies to 1-D inputs; this input is {shape}")
        channel_rate, shape = _resample_channels(channel_rate, channels), (channels,)
    base = np.outer(time_rate, channel_rate / channel_rate.mean()).reshape(steps, *shape)
    if density is not None:
        base *= density / base.mean()
    n_classes = statistics["n_classes"]
    rates = base * _modulation(n_classes, steps, shape)
    rng = np.random.default_rng([seed, SPLIT_STREAMS.get(split, 2)])
    labels = rng.permutation(_labels(split_info["samples_per_class"], n)).astype(np.int32)
    if statistics["encoding"] == "bits":
        spikes = _bernoulli(rng, np.clip(rates, 0, 1).astype(np.float32), labels)
    else:
        spikes = _poisson(rng, rates, labels)
    return SpikeData(spikes, labels, steps, "synthetic", statistics["task"], statistics["encoding"])


def synthetic_shd(
    *,
    n_samples: int | None = 8156,
    time_steps: int = 256,
    channels: int = 128,
    density: float | None = None,
    seed: int = 0,
    split: str = "train",
    statistics: dict | None = None,
) -> SpikeData:
    """A synthetic twin of SHD: binary spikes bit-packed ``[N, ceil(T / 8), C]``, 20 classes.

    Args:
        n_samples: samples (None: the split's size, 8156 for train).
        time_steps: ``T``.
        channels: ``C`` (the paper's 128).
        density: mean spike probability (default: the statistics').
        seed: the seed.
        split: ``"train"`` or ``"test"`` (class counts and random stream).
        statistics: a record (default: the shipped ``stats/shd.json``).
    """
    stats = statistics or shipped_statistics("shd")
    return twin(
        stats,
        split=split,
        n_samples=n_samples,
        time_steps=time_steps,
        channels=channels,
        density=density,
        seed=seed,
    )


def synthetic_nmnist(
    *,
    n_samples: int | None = 60000,
    time_steps: int = 64,
    seed: int = 0,
    split: str = "train",
    statistics: dict | None = None,
) -> SpikeData:
    """A synthetic twin of N-MNIST: counts uint8 ``[N, T, 2, 34, 34]``, 10 classes.

    The full train size takes ``60000 * T * 2312`` bytes (8.9 GB at T = 64): pass ``n_samples``.

    Args:
        n_samples: samples (None: the split's size).
        time_steps: ``T``.
        seed: the seed.
        split: ``"train"`` or ``"test"``.
        statistics: a record (default: the shipped ``stats/nmnist.json``).
    """
    stats = statistics or shipped_statistics("nmnist")
    return twin(stats, split=split, n_samples=n_samples, time_steps=time_steps, seed=seed)


def _labels(samples_per_class: list[int], n: int) -> np.ndarray:
    """``n`` labels in the record's class proportions (largest remainders)."""
    share = np.asarray(samples_per_class, np.float64)
    share = share / share.sum() * n
    counts = np.floor(share).astype(int)
    counts[np.argsort(counts - share)[: n - counts.sum()]] += 1
    return np.repeat(np.arange(len(counts)), counts)


def _modulation(n_classes: int, steps: int, shape: tuple[int, ...]) -> np.ndarray:
    """``m_k`` of the module docstring, ``[K, T, *shape]``, averaging to 1 over the classes."""
    grids = np.meshgrid(*[np.arange(n) / n for n in shape], indexing="ij")
    last, other = grids[-1], grids[-2] if len(grids) > 1 else grids[-1]
    t = (np.arange(steps) / steps).reshape(steps, *[1] * len(shape))
    theta_1 = 2 * np.pi * 2 * last + 0 * t
    theta_2 = 2 * np.pi * (1.5 * other + t)
    stride = next(s for s in range(2, n_classes + 2) if math.gcd(s, n_classes) == 1)
    k = np.arange(n_classes).reshape(n_classes, *[1] * (len(shape) + 1))
    phase = 2 * np.pi * k / n_classes
    return 1 + DEPTH / 2 * (np.sin(theta_1 + phase) + np.sin(theta_2 + stride * phase))


def _bernoulli(rng, probability: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Binary spikes, bit-packed along time."""
    from spyx_core import pack_time  # here: spyx_core imports JAX, which torch-only runs never need

    steps = probability.shape[1]
    packed = np.empty((len(labels), -(-steps // 8), *probability.shape[2:]), np.uint8)
    for start in range(0, len(labels), _BITS_BLOCK):
        block = labels[start : start + _BITS_BLOCK]
        draws = rng.random((len(block), *probability.shape[1:]), dtype=np.float32)
        packed[start : start + len(block)] = pack_time(draws < probability[block])
    return packed


def _poisson(rng, rate: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Poisson counts (saturating at 255), drawn as a Poisson total per sample spread over the
    cells in proportion to their rates: the same distribution as one draw per cell, but the work
    scales with the events (~4000 per N-MNIST sample) instead of the 148k cells."""
    cells = rate[0].size
    cumulative = np.cumsum(rate.reshape(len(rate), cells), axis=1)
    totals = cumulative[:, -1]
    counts = np.empty((len(labels), *rate.shape[1:]), np.uint8)
    for start in range(0, len(labels), _COUNTS_BLOCK):
        block = labels[start : start + _COUNTS_BLOCK]
        per_sample = rng.poisson(totals[block])
        owner = np.repeat(np.arange(len(block)), per_sample)
        position = np.empty(len(owner), np.int64)
        # Sorted within each sample (owner is non-decreasing, so sorting owner + u keeps every
        # draw with its sample; the order inside a sample is irrelevant to the histogram): the
        # searchsorted below then walks its table in order, ~2x faster than random queries.
        fraction = np.sort(owner + rng.random(len(owner))) - owner
        draws = fraction * totals[block][owner]
        for k in np.unique(block):
            mine = block[owner] == k
            position[mine] = np.searchsorted(cumulative[k], draws[mine], side="right")
        np.minimum(position, cells - 1, out=position)  # guards against float round-off at the end
        histogram = np.bincount(owner * cells + position, minlength=len(block) * cells)
        np.minimum(histogram, 255, out=histogram)
        counts[start : start + len(block)] = histogram.reshape(len(block), *rate.shape[1:])
    return counts


def _resample_time(rate, steps: int, *, binary: bool) -> np.ndarray:
    """The time profile on ``steps`` steps, as the same recordings binned into ``steps`` steps.

    Counts keep the expected events per sample. A binary step is set if any of the finer steps it
    merges was: the profile is resampled as the intensity ``-log(1 - p)`` (additive for independent
    steps), so halving ``T`` turns ``p`` into ``1 - (1 - p)^2`` (an approximation: the profile
    is a mean over channels).
    """
    rate = np.asarray(rate, np.float64)
    if len(rate) == steps:
        return rate
    intensity = -np.log1p(-np.clip(rate, 0.0, 1 - 1e-9)) if binary else rate
    cumulative = np.concatenate([[0.0], np.cumsum(intensity)])
    old, new = np.linspace(0, 1, len(rate) + 1), np.linspace(0, 1, steps + 1)
    resampled = np.diff(np.interp(new, old, cumulative))
    return -np.expm1(-resampled) if binary else resampled


def _resample_channels(rate: np.ndarray, channels: int) -> np.ndarray:
    """The channel profile on ``channels`` channels, keeping its mean."""
    old = (np.arange(len(rate)) + 0.5) / len(rate)
    resampled = np.interp((np.arange(channels) + 0.5) / channels, old, rate)
    return resampled * rate.mean() / resampled.mean()
