"""Honest clocks: the device is synchronised before every clock read."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def timed(work: Callable[[], T], synchronize: Callable[[], None]) -> tuple[T, float]:
    """Runs ``work`` between two device synchronisations; returns its result and wall seconds."""
    synchronize()
    start = time.perf_counter()
    result = work()
    synchronize()
    return result, time.perf_counter() - start


def spread(seconds: list[float]) -> tuple[float | None, float | None, float | None]:
    """``(median, min, max)`` of the timings, or three ``None`` when there are none."""
    if not seconds:
        return None, None, None
    return statistics.median(seconds), min(seconds), max(seconds)
