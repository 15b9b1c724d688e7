"""Peak memory, like with like (docs/memory.md).

Every framework's row carries one host measurement taken the same way by the worker: its peak
resident set above a baseline taken just before the model is built (after the imports and the
data). The backends' own figures (``frameworks.adapter.BackendMemory``: XLA's plan, JAX's and
torch's allocator peaks) stay in their own fields. ``headline`` picks, per device, the one figure
the row's ``peak_memory_bytes`` carries and ``peak_memory_source`` names, so that the report's
memory columns compare one measurement across frameworks.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATM = Path("/proc/self/statm")
STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
RESET_HIGH_WATER = "5"
"""Written to clear_refs, resets the process's peak RSS to its current RSS (Linux 4.0 on); the
other values clear page bits and are never written here."""
RESET_SLACK_BYTES = 1 << 20
"""How far above the baseline the high-water mark may read just after a reset that took effect
(pages touched between the two reads)."""
RSS_SOURCE = "peak RSS above baseline"
RSS_SOURCE_UNRESET = "peak RSS above baseline (high-water mark not reset: an upper bound)"


@dataclass(frozen=True)
class RssBaseline:
    """The resident set when the model is about to be built."""

    rss_bytes: int | None  # None: no /proc/self/statm (not Linux)
    reset: bool  # whether the high-water mark was reset to it (the imports' peak then not counted)


def current_rss() -> int | None:
    """This process's resident set in bytes now (``/proc/self/statm``), None where unknown."""
    try:
        pages = int(STATM.read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError, AttributeError):
        return None


def max_rss() -> int:
    """The process's peak resident set in bytes: ``VmHWM`` of /proc/self/status where there is
    one, else ``getrusage(RUSAGE_SELF).ru_maxrss`` (KiB on Linux).

    ``VmHWM`` first: it is the mark the reset resets. ``ru_maxrss`` also keeps the peak of the
    image the process replaced at exec, which no reset clears: a worker started by the runner
    (forked from it) reads at least the runner's resident set there."""
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # "VmHWM:   12345 kB"
    except (OSError, IndexError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_baseline() -> RssBaseline:
    """Takes the baseline and resets the high-water mark to it where Linux allows.

    Without the reset, ``ru_maxrss`` keeps the highest resident set since the process started,
    which the imports or the data loading may have set (a freed temporary); the reset is checked
    by reading the mark back."""
    rss = current_rss()
    try:
        CLEAR_REFS.write_text(RESET_HIGH_WATER)
    except OSError:
        return RssBaseline(rss, reset=False)
    return RssBaseline(rss, reset=rss is not None and max_rss() <= rss + RESET_SLACK_BYTES)


def peak_rss_above(baseline: RssBaseline) -> tuple[int | None, str]:
    """The peak resident set since ``baseline`` above it, in bytes, and how it was obtained."""
    if baseline.rss_bytes is None:
        return None, "unknown"
    source = RSS_SOURCE if baseline.reset else RSS_SOURCE_UNRESET
    return max(0, max_rss() - baseline.rss_bytes), source


HEADLINE: dict[str, tuple[tuple[str, str], ...]] = {
    "cpu": (("peak_rss_above_baseline_bytes", ""),),
    "gpu": (
        ("torch_max_allocated_bytes", "torch max_memory_allocated"),
        ("jax_peak_bytes_in_use", "jax memory_stats peak_bytes_in_use"),
    ),
    "tpu": (("jax_peak_bytes_in_use", "jax memory_stats peak_bytes_in_use"),),
}
"""Per device, the row fields its headline memory may come from, in order, and their labels ("":
the row's ``peak_rss_source``). On the CPU every framework has the RSS; on an accelerator the
frameworks' allocators are the only peak there is, each labelled (they count alike, live buffers at
their peak, but are not one measurement: the report keeps them in separate columns)."""


def headline(row: Any) -> tuple[int | None, str]:
    """The row's headline peak memory and its label (``HEADLINE``; None, "unknown" when none)."""
    for name, label in HEADLINE.get(row.device, ()):
        value = getattr(row, name)
        if value is not None:
            return value, label or row.peak_rss_source
    return None, "unknown"
