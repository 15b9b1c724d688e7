"""Statistics fitted from the real data, for twins that look like the user's own copy."""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from harness.datasets._paths import cache_dir, resolve_data_dir
from harness.datasets._real import DataRequestError, load_real, select
from harness.datasets._tasks import TASKS
from harness.datasets._warn import warn_stderr
from harness.datasets.cache import CacheKey, load_json, save_json
from harness.datasets.synthetic import from_json, statistics_record, to_json

FIT_SAMPLES = 4096  # rates from a seeded subset: enough for 4 digits, bounded memory for N-MNIST


def fit_statistics(
    task: str,
    *,
    data_dir: str | os.PathLike | None = None,
    split: str = "train",
    time_steps: int | None = None,
    max_samples: int = FIT_SAMPLES,
    cache: bool = True,
    warn: Callable[[str], None] = warn_stderr,
) -> dict:
    """Fits a statistics record (``statistics.py``) to the real data under ``data_dir``.

    Rates are measured on at most ``max_samples`` samples (a seeded subset); split size and class
    counts come from the whole split. The record is cached under ``<data_dir>/.spikebench-cache``
    (keyed like the preprocessed data); write it elsewhere with ``write_statistics``.

    Args:
        task: ``"shd"`` or ``"nmnist"``.
        data_dir: the data folder (default: ``default_data_dir()``).
        split: ``"train"`` or ``"test"``.
        time_steps: ``T`` (default: the task's).
        max_samples: samples the rates are measured on.
        cache: read and write the cached record.
        warn: told about stale or corrupt cache entries.

    Returns:
        The record, ``source`` = ``"fitted from real data at <folder>"``.

    Raises:
        DatasetMissing, DatasetCorrupt: as ``load(source="real")``.
    """
    if task not in TASKS:
        raise DataRequestError(f"unknown task {task!r}; choose one of {sorted(TASKS)}")
    spec = TASKS[task]
    root = resolve_data_dir(data_dir)
    source = spec.scan(root, split)
    steps = time_steps or spec.default_time_steps
    params = {"preprocessing": spec.params(steps), "max_samples": max_samples}
    key = CacheKey("stats", task, split, params, source.fingerprint())
    directory = cache_dir(root)
    if cache:
        content = load_json(directory, key, warn)
        if content is not None:
            return from_json(content, str(directory / key.filename("json")))
    indices, selection = select(len(source), n_samples=max_samples, half_train=False, seed=0)
    # The subset is not cached as data: only the small record is worth keeping.
    data = load_real(
        spec, source, time_steps=steps, indices=indices, selection=selection, cache_dir=None, warn=warn
    )
    counts = np.bincount(source.labels, minlength=spec.n_classes).tolist()
    record = statistics_record(
        data,
        task=task,
        source=f"fitted from real data at {source.root}",
        splits={split: {"n_samples": len(source), "samples_per_class": counts}},
    )
    record = from_json(to_json(record))  # what a reader of the cached file would get
    if cache:
        save_json(directory, key, to_json(record), warn)
    return record
