"""Spike statistics of a dataset, and the small JSON files that carry them to the synthetic twins.

A *rate* is the mean value of a cell of the unpacked data: the spike probability for binary
(``"bits"``) data, the mean event count for ``"counts"`` data. Channels are the input cells
flattened in C order (for N-MNIST: polarity, y, x).

A statistics file (``stats/shd.json``, ``stats/nmnist.json``, or one fitted from real data) holds::

    format, task, source, profile, encoding, time_steps, input_shape, n_classes,
    splits: {split: {n_samples, samples_per_class}}, mean_density, time_rate [T], channel_rate [C]

``source`` is ``"published figures + assumed profile"`` for the shipped defaults and
``"fitted from real data at <path>"`` for fitted ones.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np

from frameworks.adapter import SpikeData
from harness.datasets.cache import write_atomic

FORMAT = "spikebench.dataset-statistics/1"
PUBLISHED_SOURCE = "published figures + assumed profile"
KNOWN_CLASSES = {"shd": 20, "nmnist": 10}
_BLOCK = 512
_ARRAYS = ("time_rate", "channel_rate")


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
    for start in range(0, len(data), _BLOCK):  # blocks: an unpacked SHD train set is 267 MB
        block = data.packed[start : start + _BLOCK]
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
