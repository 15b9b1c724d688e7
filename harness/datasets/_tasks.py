"""The datasets ``load`` knows: each is a NamedTuple of constants and pure functions."""

from __future__ import annotations

from harness.datasets import nmnist, shd
from harness.datasets._real import Task


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
