"""The datasets ``load`` knows: each is a NamedTuple of constants and pure functions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

from harness.datasets import nmnist, shd
from harness.datasets._source import RealSource


class Task(NamedTuple):
    name: str
    encoding: str
    default_time_steps: int
    n_classes: int
    input_shape: tuple[int, ...]
    split_sizes: Mapping[str, int]
    scan: Callable[[Path, str], RealSource]
    """Checks and lists a split on disk (DatasetMissing / DatasetCorrupt)."""
    preprocess: Callable[
        [RealSource, np.ndarray, int, Callable[[str], None]], tuple[np.ndarray, np.ndarray]
    ]
    """(source, sorted indices, T, warn) -> (packed or counts, labels)."""
    params: Callable[[int], dict]
    """T -> every preprocessing parameter, for the cache key."""


def _task(module) -> Task:
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
