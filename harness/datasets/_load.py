"""``load``: the one entry point every adapter's data comes through.

Also here: where the data lives (``default_data_dir``, the cache folder inside it), the tasks
``load`` knows (one ``Task`` per reader module, ``shd.py`` and ``nmnist.py``), the default
``warn``, and ``fit_statistics``, which fits a twin's statistics to the real files. See
``docs/datasets.md``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from frameworks.adapter import SpikeData
from harness.datasets import nmnist, shd
from harness.datasets._real import (
    DataRequestError,
    DatasetCorrupt,
    DatasetMissing,
    RealSource,
    Task,
    load_real,
    select,
)
from harness.datasets.cache import CacheKey, load_json, save_json
from harness.datasets.synthetic import from_json, shipped_statistics, statistics_record, to_json, twin

SPLITS = ("train", "test")
SOURCES = ("auto", "real", "synthetic")
DATA_ENV = "SPIKEBENCH_DATA"
CACHE_DIRNAME = ".spikebench-cache"
FIT_SAMPLES = 4096  # rates from a seeded subset: enough for 4 digits, bounded memory for N-MNIST


def _task(module) -> Task:
    """A reader module's constants and functions as a ``Task``."""
    return Task(
        module.NAME,
        module.ENCODING,
        module.DEFAULT_TIME_STEPS,
        module.N_CLASSES,
        module.INPUT_SHAPE,
        module.SPLIT_SIZES,
        module.scan,
        module.preprocess,
        module.params,
    )


TASKS: dict[str, Task] = {"shd": _task(shd), "nmnist": _task(nmnist)}


def warn_stderr(message: str) -> None:
    """The default ``warn``: prints ``spikebench: warning: <message>`` to stderr."""
    print(f"spikebench: warning: {message}", file=sys.stderr)


def default_data_dir() -> Path:
    """The data folder used when none is given.

    Returns:
        ``$SPIKEBENCH_DATA`` if set, else ``$XDG_CACHE_HOME/spikebench/data``, else
        ``~/.cache/spikebench/data``. The folder is not created.
    """
    explicit = os.environ.get(DATA_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "spikebench" / "data"


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """``data_dir`` as an absolute path, or ``default_data_dir()`` when it is None."""
    return (default_data_dir() if data_dir is None else Path(data_dir).expanduser()).absolute()


def cache_dir(data_dir: Path) -> Path:
    """The preprocessing cache folder inside ``data_dir`` (not created here)."""
    return data_dir / CACHE_DIRNAME


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
    real = _scan(spec, root, split, source, warn)
    if real is None:
        return _draw(shipped_statistics(task), split, steps, n_samples, seed, half_train)
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
    if source == "synthetic" or _scan(spec, resolve_data_dir(data_dir), "train", source, warn) is None:
        return "synthetic"
    return "real"


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
    """Fits a statistics record (``synthetic.py``) to the real data under ``data_dir``.

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
    spec = _task_named(task)
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


def _scan(spec: Task, root: Path, split: str, source: str, warn) -> RealSource | None:
    """The real split, or None where it is missing and ``source="auto"`` falls back to the twin."""
    try:
        return spec.scan(root, split)
    except DatasetMissing as missing:
        if source == "real":
            raise
        twin_instead = (
            f"Using the synthetic {spec.name} twin instead: results are marked kind='synthetic'"
        )
        warn(f"{missing}. {twin_instead}")
        return None


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


def _task_named(task: str) -> Task:
    if task not in TASKS:
        raise DataRequestError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    return TASKS[task]


def _check(task, split, source, time_steps, n_samples, half_train) -> Task:
    spec = _task_named(task)
    if split not in SPLITS:
        raise DataRequestError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if source not in SOURCES:
        raise DataRequestError(f"unknown data source {source!r}; choose one of {', '.join(SOURCES)}")
    for name, value in (("time_steps", time_steps), ("n_samples", n_samples)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise DataRequestError(f"{name} must be a positive integer; got {value!r}")
    if half_train and split != "train":
        raise DataRequestError("half_train halves the train split; it cannot be used with split='test'")
    return spec
