"""How busy the machine was while a cell's timed part ran (docs/memory.md, "Machine busyness").

The worker watches its ``measure`` / ``measure_micro`` (harness/worker.py) and records in the row:

- ``other_cpu_cores``: the CPU other processes used, as cores busy on average over the interval:
  the machine's busy CPU seconds (``/proc/stat``, every core) minus this process tree's own (its
  threads, its reaped children and its live descendants, e.g. torch.compile's workers), divided by
  the wall seconds.
- ``load_1m_start``, ``load_1m_end``: the 1-minute load average at both ends (the cell's own
  threads count in it: context, not the verdict).
- ``device_other_processes``: on a GPU, the other compute processes on the GPUs the worker may
  use (``nvidia-smi --query-compute-apps``), pid and MiB, seen at either end.
- ``busy``: whether any of it makes the cell's times suspect (``is_busy``).

Linux-only readings degrade to None ("unknown") elsewhere; nothing here raises.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BUSY_CORES = 0.25
"""Other processes' average CPU above which a cell is busy. A quiet Linux host's daemons and the
runner polling its worker stay well under a tenth of a core; a quarter of a core taken for the
whole interval is an eighth of a 2-core machine whose every core the frameworks use (XLA's and
torch's thread pools span all cores), a slow-down larger than the 10 % factor ``spikebench
compare`` calls a regression (docs/regression.md) once the stolen time lands on the critical path."""
PROC_STAT = Path("/proc/stat")
IDLE_STATES = (3, 4)
"""Columns of /proc/stat's ``cpu`` line that are not busy: idle and iowait. The others (user, nice,
system, irq, softirq, steal) are; steal is time another virtual machine took from this one."""
COUNTED_STATES = 8
"""The first eight columns: guest and guest_nice after them are already inside user and nice."""


@dataclass(frozen=True)
class CpuSample:
    """One reading of the clocks the busyness is computed from (seconds)."""

    wall_s: float
    machine_busy_s: float | None  # every core's busy seconds since boot (None: no /proc/stat)
    own_s: float  # this process tree's CPU seconds
    load_1m: float | None


@dataclass(frozen=True)
class Busyness:
    """The machine over one interval (the row's fields of the same names; module docstring)."""

    other_cpu_cores: float | None
    load_1m_start: float | None
    load_1m_end: float | None
    device_other_processes: list[dict[str, int]] | None
    busy: bool | None


def busy_seconds(stat_text: str, ticks_per_s: float) -> float:
    """Busy CPU seconds of every core since boot from /proc/stat's aggregate ``cpu`` line.

    Raises:
        ValueError: the text does not start with the aggregate ``cpu`` line.
    """
    name, *columns = stat_text.split("\n", 1)[0].split()
    if name != "cpu":
        raise ValueError(f"not /proc/stat: its first line starts with {name!r}")
    ticks = [int(value) for value in columns[:COUNTED_STATES]]
    return sum(t for i, t in enumerate(ticks) if i not in IDLE_STATES) / ticks_per_s


def other_cores(start: CpuSample, end: CpuSample) -> float | None:
    """Cores other processes kept busy on average between two samples (None: unknown).

    Small negative values (the machine's clock counts whole ticks, the process's is exact) read 0."""
    wall = end.wall_s - start.wall_s
    if start.machine_busy_s is None or end.machine_busy_s is None or wall <= 0:
        return None
    others = (end.machine_busy_s - start.machine_busy_s) - (end.own_s - start.own_s)
    return max(0.0, others / wall)


def is_busy(other_cpu_cores: float | None, device_other_processes: list | None) -> bool | None:
    """Busy: another process on the cell's GPU, or other processes above ``BUSY_CORES`` on
    average; not busy when the CPU reading is below it; None when unknown."""
    if device_other_processes:
        return True
    return None if other_cpu_cores is None else other_cpu_cores > BUSY_CORES


def _machine_busy_s() -> float | None:
    try:
        return busy_seconds(PROC_STAT.read_text(), os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, AttributeError):  # no /proc (macOS) or no sysconf (Windows)
        return None


def _process_cpu_s(pid: int) -> float:
    """utime + stime + cutime + cstime of ``pid`` (0 when it has gone or cannot be read)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
        # After the command name (which may hold spaces and parentheses): state is column 3, so
        # utime..cstime (columns 14-17) are the 12th to 15th fields.
        fields = text.rsplit(")", 1)[1].split()
        return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, AttributeError):
        return 0.0


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (Linux's ``/proc/PID/task/TID/children``; [] elsewhere)."""
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                kids = [int(child) for child in children.read_text().split()]
            except OSError:  # the thread ended meanwhile
                continue
            found += kids
            queue += kids
    return found


def own_cpu_s() -> float:
    """This process's CPU seconds (all threads, reaped children) and its live descendants'."""
    times = os.times()
    own = times.user + times.system + times.children_user + times.children_system
    return own + sum(_process_cpu_s(child) for child in descendants(os.getpid()))


def _load_1m() -> float | None:
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):  # no load average (Windows)
        return None


def cpu_sample() -> CpuSample:
    """The clocks now."""
    return CpuSample(time.perf_counter(), _machine_busy_s(), own_cpu_s(), _load_1m())


def compute_apps(csv_text: str) -> list[dict[str, Any]]:
    """``nvidia-smi --query-compute-apps=pid,gpu_uuid,used_memory --format=csv,noheader,nounits``
    output as ``{"pid", "gpu_uuid", "used_mib"}`` records (lines that do not parse are skipped)."""
    apps = []
    for line in csv_text.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) == 3 and parts[0].isdigit():
            used = int(parts[2]) if parts[2].isdigit() else -1  # "[N/A]" where the driver hides it
            apps.append({"pid": int(parts[0]), "gpu_uuid": parts[1], "used_mib": used})
    return apps


def visible_uuids(index_uuid_csv: str, visible: str | None) -> set[str] | None:
    """The UUIDs of the GPUs ``CUDA_VISIBLE_DEVICES`` names (indices or UUIDs), from ``nvidia-smi
    --query-gpu=index,uuid --format=csv,noheader``; None (every GPU) when it is unset."""
    if visible is None:
        return None
    pairs = (line.split(",", 1) for line in index_uuid_csv.splitlines() if "," in line)
    by_index = {index.strip(): uuid.strip() for index, uuid in pairs}
    named = (entry.strip() for entry in visible.split(","))
    return {by_index.get(entry, entry) for entry in named if entry}


def _nvidia_smi(*query: str) -> str | None:
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return None
    try:
        done = subprocess.run([tool, *query], capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout


def gpu_sharers() -> list[dict[str, int]] | None:
    """Other compute processes on the GPUs this process may use: ``{"pid", "used_mib"}`` each
    ([] none; None when nvidia-smi is absent or fails). Not this process nor its descendants."""
    apps = _nvidia_smi("--query-compute-apps=pid,gpu_uuid,used_memory", "--format=csv,noheader,nounits")
    if apps is None:
        return None
    mine = {os.getpid(), *descendants(os.getpid())}
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    uuids = visible_uuids(_nvidia_smi("--query-gpu=index,uuid", "--format=csv,noheader") or "", visible)
    return [
        {"pid": app["pid"], "used_mib": app["used_mib"]}
        for app in compute_apps(apps)
        if app["pid"] not in mine and (uuids is None or app["gpu_uuid"] in uuids)
    ]


DEVICE_SHARERS: dict[str, Callable[[], list[dict[str, int]] | None]] = {"gpu": gpu_sharers}
"""How to find other processes on a cell's device; a device without an entry has no reading."""


def merged(*readings: list[dict[str, int]] | None) -> list[dict[str, int]] | None:
    """The processes of every reading, once each by pid (the most memory seen); None if all are."""
    known = [reading for reading in readings if reading is not None]
    if not known:
        return None
    most: dict[int, int] = {}
    for app in (app for reading in known for app in reading):
        most[app["pid"]] = max(most.get(app["pid"], app["used_mib"]), app["used_mib"])
    return [{"pid": pid, "used_mib": used} for pid, used in sorted(most.items())]


def busyness(start: CpuSample, end: CpuSample, sharers: list[dict[str, int]] | None) -> Busyness:
    """The ``Busyness`` of the interval between two samples, given the device's other processes."""
    cores = other_cores(start, end)
    return Busyness(cores, start.load_1m, end.load_1m, sharers, is_busy(cores, sharers))


@contextmanager
def watched(row: Any, device: str) -> Iterator[None]:
    """Fills ``row``'s busyness fields (``Busyness``'s names) for the ``with`` block on ``device``,
    also when the block raises. The device's processes are read outside the CPU interval."""
    find = DEVICE_SHARERS.get(device, lambda: None)
    before = find()
    start = cpu_sample()
    try:
        yield
    finally:
        end = cpu_sample()
        for name, value in asdict(busyness(start, end, merged(before, find()))).items():
            setattr(row, name, value)
