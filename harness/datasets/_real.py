"""A real split: what a reader finds on disk, how that can fail, which samples are used, and
loading them once through the cache.

A reader (``shd.py``, ``nmnist.py``) provides a ``Task``: ``scan`` checks and lists a split
(``RealSource``) without reading the samples, ``preprocess`` bins the selected samples.
``load_real`` keys the cache by ``params`` and the source files' sizes and mtimes (``cache.py``).
Each error is a ``SpikebenchError`` (one line from the CLI) and the matching builtin.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from frameworks.adapter import SpikeData
from harness.datasets import cache
from harness.errors import SpikebenchError

Warn = Callable[[str], None]
Binned = tuple[np.ndarray, np.ndarray]  # (data as SpikeData.packed holds it, int32 labels [n])
_U8, _I32 = np.dtype(np.uint8), np.dtype(np.int32)


class DatasetMissing(SpikebenchError, FileNotFoundError):
    """The real dataset's files are not where they are expected; the message lists them."""


class DatasetCorrupt(SpikebenchError, ValueError):
    """The real dataset's files exist but cannot be used (truncated, wrong layout, bad values)."""


class DataRequestError(SpikebenchError, ValueError):
    """The request itself is invalid (unknown task, split or source, bad sizes)."""


@dataclass(frozen=True)
class FileStamp:
    """One source file as the cache sees it: a change of size or mtime makes the cache stale."""

    path: str  # relative to the dataset root, "/"-separated
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path, root: Path, stat: os.stat_result | None = None) -> FileStamp:
        st = path.stat() if stat is None else stat
        return cls(path.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class RealSource:
    """A split of a real dataset, checked and listed but not yet read.

    Attributes:
        task: ``"shd"`` or ``"nmnist"``.
        split: ``"train"`` or ``"test"``.
        root: the folder tonic uses, e.g. ``<data_dir>/SHD``.
        files: every file the samples are read from, in sample order where there is one per sample.
        labels: int32 ``[N]``, every sample of the split in tonic's order.
    """

    task: str
    split: str
    root: Path
    files: tuple[FileStamp, ...]
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def fingerprint(self) -> str:
        """A hash of every source file's path, size and mtime."""
        listing = [[f.path, f.size, f.mtime_ns] for f in self.files]
        return hashlib.sha256(json.dumps(listing).encode()).hexdigest()


class Task(NamedTuple):
    """A dataset ``load`` knows: a reader module's constants and functions."""

    name: str
    encoding: str
    default_time_steps: int
    n_classes: int
    input_shape: tuple[int, ...]
    split_sizes: Mapping[str, int]
    scan: Callable[[Path, str], RealSource]
    """``(data_dir, split)``: checks and lists a split on disk (DatasetMissing / DatasetCorrupt)."""
    preprocess: Callable[[RealSource, np.ndarray, int, Warn], Binned]
    """``(source, indices, T, warn) -> (data, labels)``: bins the samples ``indices`` (sorted)
    of ``source`` (from ``scan``) into ``T`` time steps; ``data`` is what ``SpikeData.packed``
    holds for the task's encoding, ``labels`` int32 ``[n]``; ``warn`` is told about anything
    dropped. Raises DatasetCorrupt where a file turns out damaged when read."""
    params: Callable[[int], dict]
    """``T`` -> every preprocessing parameter, for the cache key."""


def select(
    n_total: int, *, n_samples: int | None, half_train: bool, seed: int
) -> tuple[np.ndarray, dict]:
    """Which samples of a split are used: sorted indices and a description (for cache keys).

    All of them, a seeded half (``half_train``: the paper's N-MNIST runs), or at most
    ``n_samples``. A subset is the first ``k`` entries of ``permutation(n_total)`` drawn from
    ``seed``, sorted back into file order. A seeded order, not the first ``k`` files, because
    tonic lists N-MNIST by digit folder: its first 1000 files are all zeros. Smaller
    ``n_samples`` give nested subsets for the same seed.

    Args:
        n_total: samples in the split.
        n_samples: keep at most this many (None: no limit).
        half_train: keep ``n_total // 2`` first, as the paper's N-MNIST run does.
        seed: the permutation's seed (used only when a subset is taken).

    Returns:
        ``(indices, description)``.
    """
    keep = n_total // 2 if half_train else n_total
    if n_samples is not None:
        keep = min(keep, n_samples)
    if keep == n_total:
        return np.arange(n_total), {"n_total": n_total, "n_samples": n_total}
    order = np.random.default_rng(seed).permutation(n_total)
    indices = np.sort(order[:keep])
    return indices, {"n_total": n_total, "n_samples": keep, "half_train": half_train, "seed": seed}


def load_real(
    task: Task,
    source: RealSource,
    *,
    time_steps: int,
    indices: np.ndarray,
    selection: dict,
    cache_dir: Path | None,
    warn: Warn,
) -> SpikeData:
    """The selected samples of ``source``, preprocessed, as ``SpikeData(kind="real")``.

    Args:
        task: the task's functions.
        source: from ``task.scan``.
        time_steps: ``T``.
        indices: sorted sample indices (``select``).
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
