"""Synthetic twins: seeded spike datasets with the shapes, classes and rates of the real ones.

They exist so that speed can be measured anywhere, offline. A twin is drawn from a *statistics
record*: the rate of cell (t, c) for class k is

    rate_k(t, c) = time_rate[t] * channel_rate[c] / mean(channel_rate) * m_k(t, c)
    m_k = 1 + depth/2 * (sin(theta_1 + 2 pi k / K) + sin(theta_2 + 2 pi s k / K))

with theta_1 a grating over the input's last axis, theta_2 one over its other axis that also
drifts with time, and s coprime with K. The sines cancel over the K classes, so with balanced
classes the twin keeps the record's per-time-step and per-channel rates (and mean density); the
phases make every class a distinct, learnable pattern (accuracy on a twin shows that training
works, it says nothing about accuracy on the real data). Binary twins draw Bernoulli spikes
(rate clipped to 1); count twins draw Poisson counts (saturating at 255), sampled sparsely.

A *rate* is the mean value of a cell of the unpacked data: the spike probability for binary
(``"bits"``) data, the mean event count for ``"counts"`` data. Channels are the input cells
flattened in C order (for N-MNIST: polarity, y, x). A record (``stats/shd.json``,
``stats/nmnist.json``, or one fitted from real data) holds::

    format, task, source, profile, encoding, time_steps, input_shape, n_classes,
    splits: {split: {n_samples, samples_per_class}}, mean_density, time_rate [T], channel_rate [C]

``source`` is ``"published figures + assumed profile"`` for the shipped defaults (built by
``scripts/make_dataset_stats.py``) and ``"fitted from real data at <path>"`` for fitted ones
(``fit_statistics``). See ``docs/datasets.md``.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

import numpy as np

from frameworks.adapter import SpikeData
from harness.datasets.cache import write_atomic

DEPTH = 0.8  # class modulation: every cell's rate varies between 0.2x and 1.8x across classes
SPLIT_STREAMS = {"train": 0, "test": 1}  # train and test twins of one seed draw different samples
FORMAT = "spikebench.dataset-statistics/1"
PUBLISHED_SOURCE = "published figures + assumed profile"
KNOWN_CLASSES = {"shd": 20, "nmnist": 10}
_BITS_BLOCK = 256
_COUNTS_BLOCK = 64
_STATS_BLOCK = 512
_ARRAYS = ("time_rate", "channel_rate")


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


def dataset_statistics(data: SpikeData) -> dict:
    """Rates of ``data`` per time step and per channel, mean density and class counts.

    Args:
        data: any ``SpikeData`` (bits or counts).

    Returns:
        A dict with ``name``, ``kind``, ``encoding``, ``time_steps``, ``input_shape``,
        ``n_samples``, ``n_classes``, ``samples_per_class`` (list), ``mean_density`` (float),
        ``time_rate`` (float64 ``[T]``) and ``channel_rate`` (float64 ``[C]``).
    """
    steps, channels = data.time_steps, int(np.prod(data.input_shape))
    per_step = np.zeros(steps, np.int64)
    per_channel = np.zeros(channels, np.int64)
    for start in range(0, len(data), _STATS_BLOCK):  # blocks: an unpacked SHD train set is 267 MB
        block = data.packed[start : start + _STATS_BLOCK]
        if data.encoding == "bits":
            block = np.unpackbits(block, axis=1, count=steps)
        block = block.reshape(len(block), steps, channels)
        per_step += block.sum(axis=(0, 2), dtype=np.int64)
        per_channel += block.sum(axis=(0, 1), dtype=np.int64)
    n = max(len(data), 1)
    n_classes = KNOWN_CLASSES.get(data.name, int(data.labels.max(initial=-1)) + 1)
    return {
        "name": data.name,
        "kind": data.kind,
        "encoding": data.encoding,
        "time_steps": steps,
        "input_shape": list(data.input_shape),
        "n_samples": len(data),
        "n_classes": n_classes,
        "samples_per_class": np.bincount(data.labels, minlength=n_classes).tolist(),
        "mean_density": float(per_step.sum() / (n * steps * channels)),
        "time_rate": per_step / (n * channels),
        "channel_rate": per_channel / (n * steps),
    }


def statistics_record(
    data: SpikeData, *, task: str, source: str, splits: dict, profile: str = ""
) -> dict:
    """A statistics-file record fitted from ``data``.

    Args:
        data: the samples the rates are measured on.
        task: ``"shd"`` or ``"nmnist"``.
        source: where the numbers come from, e.g. ``"fitted from real data at /data/SHD"``.
        splits: ``{split: {"n_samples": int, "samples_per_class": [int]}}`` of the full splits.
        profile: free text describing the rates.
    """
    stats = dataset_statistics(data)
    return {
        "format": FORMAT,
        "task": task,
        "source": source,
        "profile": profile or f"measured on {len(data)} samples",
        "encoding": stats["encoding"],
        "time_steps": stats["time_steps"],
        "input_shape": stats["input_shape"],
        "n_classes": stats["n_classes"],
        "splits": splits,
        "mean_density": stats["mean_density"],
        "time_rate": stats["time_rate"],
        "channel_rate": stats["channel_rate"],
    }


def to_json(record: dict) -> dict:
    """``record`` with its rate arrays as lists rounded to 4 significant digits (small files)."""
    out = dict(record)
    for name in _ARRAYS:
        out[name] = [float(f"{v:.4g}") for v in np.asarray(record[name], float)]
    out["mean_density"] = float(f"{record['mean_density']:.6g}")
    return out


def from_json(content: dict, origin: str = "statistics") -> dict:
    """Checks a loaded record and turns its rates into float64 arrays.

    Raises:
        ValueError: a field is missing or the rate arrays have the wrong length.
    """
    if content.get("format") != FORMAT:
        raise ValueError(f"{origin}: format {content.get('format')!r} is not {FORMAT!r}")
    record = dict(content)
    for name in _ARRAYS:
        record[name] = np.asarray(content[name], np.float64)
    if record["time_rate"].shape != (record["time_steps"],) or record["channel_rate"].shape != (
        int(np.prod(record["input_shape"])),
    ):
        raise ValueError(f"{origin}: rate arrays do not match time_steps / input_shape")
    return record


def write_statistics(record: dict, path: str | Path) -> Path:
    """Writes a statistics record as JSON (atomically).

    Returns:
        The path written.
    """
    path = Path(path)
    # One field per line, each value compact: readable, and the rate arrays stay small.
    fields = [f" {json.dumps(name)}: {json.dumps(value)}" for name, value in to_json(record).items()]
    text = "{\n" + ",\n".join(fields) + "\n}\n"
    write_atomic(path, lambda f: f.write(text.encode()))
    return path


def read_statistics(path: str | Path) -> dict:
    """Reads a statistics file written by ``write_statistics``."""
    return from_json(json.loads(Path(path).read_text()), str(path))


def shipped_statistics(task: str) -> dict:
    """The default statistics shipped in the package (``harness/datasets/stats/<task>.json``)."""
    text = resources.files("harness.datasets").joinpath("stats", f"{task}.json").read_text()
    return from_json(json.loads(text), f"stats/{task}.json")
