"""harness.memory: the peak RSS above a baseline, and the headline figure of each device."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import memory
from harness.results import Row

MIB = 2**20
ROOT = Path(__file__).parent.parent
ALLOCATES = """
from harness import memory
temporary = b"x" * (80 * 2**20)  # a peak before the baseline, as the imports' or the data's
del temporary
baseline = memory.rss_baseline()
kept = b"x" * (50 * 2**20)  # written, so every page is resident
print(baseline.reset, *memory.peak_rss_above(baseline), sep="|")
"""


def _resettable() -> bool:
    """Whether this kernel lets a process reset its high-water mark (harmless to this one)."""
    try:
        memory.CLEAR_REFS.write_text(memory.RESET_HIGH_WATER)
    except OSError:
        return False
    return True


@pytest.mark.skipif(memory.current_rss() is None, reason="no /proc/self/statm here")
def test_peak_rss_above_the_baseline_reads_what_was_allocated_after_it():
    """Neither the child's own peak before the baseline nor its parent's resident set (which
    ``ru_maxrss`` inherits through exec, as a worker does the runner's) counts."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    parent_holds = b"x" * (80 * MIB)  # the runner's share: this process's resident set grows by it
    out = subprocess.run([sys.executable, "-c", ALLOCATES], capture_output=True, text=True, env=env)
    del parent_holds
    reset, peak, source = out.stdout.strip().split("|")
    assert reset == str(_resettable())
    if reset == "True":  # the 80 MiB before the baseline are not counted
        assert 50 * MIB <= int(peak) <= 52 * MIB  # and the interpreter's own few pages
        assert source == memory.RSS_SOURCE
    else:  # a kernel that cannot reset the mark: the figure says it is an upper bound
        assert int(peak) >= 50 * MIB and source == memory.RSS_SOURCE_UNRESET


def test_without_proc_the_rss_is_unknown():
    assert memory.peak_rss_above(memory.RssBaseline(rss_bytes=None, reset=False)) == (None, "unknown")


def _row(device: str, **figures) -> Row:
    return Row(framework="x", task="micro", device=device, **figures)


def test_the_headline_is_the_rss_on_the_cpu_and_the_allocator_peak_on_a_gpu():
    cpu = _row("cpu", peak_rss_above_baseline_bytes=3 * MIB, peak_rss_source=memory.RSS_SOURCE,
               xla_planned_bytes=1 * MIB)  # fmt: skip
    assert memory.headline(cpu) == (3 * MIB, "peak RSS above baseline")  # never XLA's plan
    torch_gpu = _row("gpu", peak_rss_above_baseline_bytes=3 * MIB, torch_max_allocated_bytes=5 * MIB,
                     torch_max_reserved_bytes=8 * MIB)  # fmt: skip
    assert memory.headline(torch_gpu) == (5 * MIB, "torch max_memory_allocated")
    jax_gpu = _row("gpu", jax_peak_bytes_in_use=6 * MIB, xla_planned_bytes=4 * MIB)
    assert memory.headline(jax_gpu) == (6 * MIB, "jax memory_stats peak_bytes_in_use")
    assert memory.headline(_row("cpu", xla_planned_bytes=MIB)) == (None, "unknown")
