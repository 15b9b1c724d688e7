"""Loading a real split: preprocess the selected samples once, then serve them from the cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from frameworks.adapter import SpikeData
from harness.datasets import cache
from harness.datasets._source import RealSource
from harness.datasets._tasks import Task

_U8, _I32 = np.dtype(np.uint8), np.dtype(np.int32)


def load_real(
    task: Task,
    source: RealSource,
    *,
    time_steps: int,
    indices: np.ndarray,
    selection: dict,
    cache_dir: Path | None,
    warn: Callable[[str], None],
) -> SpikeData:
    """The selected samples of ``source``, preprocessed, as ``SpikeData(kind="real")``.

    Args:
        task: the task's functions.
        source: from ``task.scan``.
        time_steps: ``T``.
        indices: sorted sample indices (``_subset.select``).
        selection: the description of ``indices`` (part of the cache key).
        cache_dir: the cache folder, or None to neither read nor write a cache.
        warn: told about stale or corrupt cache entries and failed cache writes.
    """
    steps = -(-time_steps // 8) if task.encoding == "bits" else time_steps
    shape = (len(indices), steps, *task.input_shape)
    labels = source.labels[indices]
    params = {"preprocessing": task.params(time_steps), "selection": selection}
    key = cache.CacheKey("data", task.name, source.split, params, source.fingerprint())
    packed = None if cache_dir is None else _cached(task, key, cache_dir, shape, labels, warn)
    if packed is None:
        packed, labels = task.preprocess(source, indices, time_steps, warn)
        if cache_dir is not None:
            stored = {"packed": packed} if task.encoding == "bits" else cache.encode_counts(packed)
            cache.save_arrays(cache_dir, key, {**stored, "labels": labels.astype(np.int32)}, warn)
    return SpikeData(packed, labels.astype(np.int32), time_steps, "real", task.name, task.encoding)


def _cached(task: Task, key, directory: Path, shape, labels: np.ndarray, warn) -> np.ndarray | None:
    """The cached array, or None when there is no usable entry (the caller rebuilds it)."""
    if task.encoding == "bits":
        expected = {"packed": (_U8, shape)}
    else:  # counts are stored sparsely (cache.encode_counts): a cached N-MNIST load is then ~2x faster
        n = (None,)
        expected = {"nz_count": (np.dtype(np.int64), shape[:1]), "nz_index": (np.dtype(np.uint32), n)}
        expected["nz_value"] = (_U8, n)
    arrays = cache.load_arrays(directory, key, {**expected, "labels": (_I32, labels.shape)}, warn)
    if arrays is None:
        return None
    path = directory / key.filename("npz")
    if not np.array_equal(arrays["labels"], labels):
        cache.discard(path, "holds other labels than the source", warn)
        return None
    if task.encoding == "bits":
        return arrays["packed"]
    try:
        return cache.decode_counts(arrays, shape)
    except ValueError as error:
        cache.discard(path, f"cannot be used ({error})", warn)
        return None
