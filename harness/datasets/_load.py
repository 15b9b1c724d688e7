"""``load``: the one entry point every adapter's data comes through."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from frameworks.adapter import SpikeData
from harness.datasets._fit import fit_statistics
from harness.datasets._paths import cache_dir, resolve_data_dir
from harness.datasets._real import (
    DataRequestError,
    DatasetCorrupt,
    DatasetMissing,
    Task,
    load_real,
    select,
)
from harness.datasets._tasks import TASKS
from harness.datasets._warn import warn_stderr
from harness.datasets.synthetic import shipped_statistics, twin

SPLITS = ("train", "test")
SOURCES = ("auto", "real", "synthetic")


def load(
    task: str,
    *,
    split: str = "train",
    source: str = "auto",
    data_dir: str | os.PathLike | None = None,
    time_steps: int | None = None,
    n_samples: int | None = None,
    seed: int = 0,
    half_train: bool = False,
    cache: bool = True,
    warn: Callable[[str], None] = warn_stderr,
) -> SpikeData:
    """A dataset split, preprocessed as in the Spyx paper, from the real files or a synthetic twin.

    Args:
        task: ``"shd"`` (bits ``[N, ceil(T/8), 128]``) or ``"nmnist"`` (counts
            ``[N, T, 2, 34, 34]``); see ``shd.py`` and ``nmnist.py`` for the binning.
        split: ``"train"`` or ``"test"``.
        source: ``"real"`` (the files under ``data_dir``, else ``DatasetMissing``),
            ``"synthetic"`` (a twin; fitted to the real files when they are present, else to the
            shipped statistics), or ``"auto"`` (real when present, else the twin with a warning;
            damaged real files still raise).
        data_dir: the data folder (default: ``default_data_dir()``).
        time_steps: ``T`` (default: 256 for SHD, 64 for N-MNIST).
        n_samples: at most this many samples: the first ``n`` of a seeded order (twins: exactly
            ``n``).
        seed: the order of ``n_samples`` / ``half_train`` subsets and the twin's draws.
        half_train: use a seeded half of the train set, as the paper's N-MNIST runs.
        cache: read and write preprocessed real data under ``<data_dir>/.spikebench-cache``.
        warn: receives every warning (fallback to a twin, stale or corrupt cache, short splits).

    Returns:
        ``SpikeData`` with ``kind`` ``"real"`` or ``"synthetic"``.

    Raises:
        DataRequestError: an argument is invalid.
        DatasetMissing: ``source="real"`` and the files are not there (the message says which
            files, in which layout, and where to get them).
        DatasetCorrupt: the files are there but damaged (the message names the file).
    """
    spec = _check(task, split, source, time_steps, n_samples, half_train)
    root = resolve_data_dir(data_dir)
    steps = time_steps or spec.default_time_steps
    if source == "synthetic":
        return _synthetic(spec, root, split, steps, n_samples, seed, half_train, cache, warn)
    try:
        real = spec.scan(root, split)
    except DatasetMissing as missing:
        if source == "real":
            raise
        warn(f"{missing}. Using the synthetic {task} twin instead: results are marked kind='synthetic'")
        stats = shipped_statistics(task)
        return _draw(stats, split, steps, n_samples, seed, half_train)
    if len(real) != spec.split_sizes[split]:
        official = spec.split_sizes[split]
        warn(f"{real.root} holds {len(real)} {task} {split} samples; the official split has {official}")
    indices, selection = select(len(real), n_samples=n_samples, half_train=half_train, seed=seed)
    return load_real(
        spec,
        real,
        time_steps=steps,
        indices=indices,
        selection=selection,
        cache_dir=cache_dir(root) if cache else None,
        warn=warn,
    )


def resolve_source(
    task: str,
    source: str,
    data_dir: str | os.PathLike | None = None,
    warn: Callable[[str], None] = warn_stderr,
) -> str:
    """What ``load`` would use for the train split: ``"real"`` or ``"synthetic"``.

    Lets a caller decide once, and warn once, before starting many workers.

    Raises:
        DataRequestError: unknown task or source.
        DatasetMissing: ``source="real"`` and the files are not there.
    """
    spec = _check(task, "train", source, None, None, False)
    if source == "synthetic":
        return "synthetic"
    try:
        spec.scan(resolve_data_dir(data_dir), "train")
    except DatasetMissing as missing:
        if source == "real":
            raise
        warn(f"{missing}. Using the synthetic {task} twin instead: results are marked kind='synthetic'")
        return "synthetic"
    return "real"


def _synthetic(
    spec: Task, root: Path, split, steps, n_samples, seed, half_train, cache, warn
) -> SpikeData:
    """The twin, fitted to the real files when they are present."""
    try:
        stats = fit_statistics(
            spec.name, data_dir=root, split=split, time_steps=steps, cache=cache, warn=warn
        )
    except DatasetMissing:
        stats = shipped_statistics(spec.name)
    except DatasetCorrupt as damaged:
        warn(f"cannot fit the twin to the real data ({damaged}); using the shipped statistics")
        stats = shipped_statistics(spec.name)
    return _draw(stats, split, steps, n_samples, seed, half_train)


def _draw(stats: dict, split: str, steps: int, n_samples, seed: int, half_train: bool) -> SpikeData:
    """The twin: ``n_samples`` samples, else the split's size (halved by ``half_train``)."""
    splits = stats["splits"]
    size = (splits.get(split) or next(iter(splits.values())))["n_samples"]
    n = (size // 2 if half_train else size) if n_samples is None else n_samples
    return twin(stats, split=split, n_samples=n, time_steps=steps, seed=seed)


def _check(task, split, source, time_steps, n_samples, half_train) -> Task:
    if task not in TASKS:
        raise DataRequestError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if split not in SPLITS:
        raise DataRequestError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if source not in SOURCES:
        raise DataRequestError(f"unknown data source {source!r}; choose one of {', '.join(SOURCES)}")
    for name, value in (("time_steps", time_steps), ("n_samples", n_samples)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise DataRequestError(f"{name} must be a positive integer; got {value!r}")
    if half_train and split != "train":
        raise DataRequestError("half_train halves the train split; it cannot be used with split='test'")
    return TASKS[task]
