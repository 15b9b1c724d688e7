"""harness.machine: other processes' CPU from /proc/stat, the busy verdict, the GPU's sharers."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from harness import machine
from harness.machine import CpuSample, busy_seconds, is_busy, other_cores

LINUX = pytest.mark.skipif(machine._machine_busy_s() is None, reason="no /proc/stat here")

STAT = (
    "cpu  1000 200 300 9000 500 60 70 80 40 20\n"
    "cpu0 500 100 150 4500 250 30 35 40 20 10\n"
    "intr 12345 0 0\n"
)


def test_busy_seconds_counts_every_state_but_idle_and_iowait():
    # user 1000 + nice 200 + system 300 + irq 60 + softirq 70 + steal 80 ticks; idle 9000 and
    # iowait 500 are not busy; guest 40 and guest_nice 20 are inside user and nice already.
    assert busy_seconds(STAT, ticks_per_s=100) == pytest.approx(17.1)
    with pytest.raises(ValueError, match="not /proc/stat"):
        busy_seconds("cpu0 1 2 3 4\n", ticks_per_s=100)


def test_other_cores_is_the_machines_busy_time_less_our_own_over_the_wall_time():
    start = CpuSample(wall_s=10.0, machine_busy_s=100.0, own_s=5.0, load_1m=1.0)
    end = CpuSample(wall_s=12.0, machine_busy_s=103.5, own_s=6.5, load_1m=1.5)
    assert other_cores(start, end) == pytest.approx(1.0)  # (3.5 - 1.5) s / 2 s
    rounding = CpuSample(wall_s=12.0, machine_busy_s=101.4, own_s=6.5, load_1m=1.5)
    assert other_cores(start, rounding) == 0.0  # ticks counted short of our exact 1.5 s
    unknown = CpuSample(wall_s=12.0, machine_busy_s=None, own_s=6.5, load_1m=None)
    assert other_cores(start, unknown) is None
    found = machine.busyness(start, end, None)
    assert (found.load_1m_start, found.load_1m_end, found.busy) == (1.0, 1.5, True)


def test_busy_is_other_cpu_above_a_quarter_core_or_another_process_on_the_gpu():
    assert is_busy(0.26, None) is True
    assert is_busy(0.25, []) is False
    assert is_busy(None, None) is None
    assert is_busy(0.0, [{"pid": 7, "used_mib": 300}]) is True
    assert is_busy(None, [{"pid": 7, "used_mib": 300}]) is True


NVIDIA_APPS = "4242, GPU-aaaa, 1200\n777, GPU-bbbb, [N/A]\nNo running processes found\n"
NVIDIA_GPUS = "0, GPU-aaaa\n1, GPU-bbbb\n"


def test_nvidia_smi_compute_apps_and_the_visible_gpus_parse():
    assert machine.compute_apps(NVIDIA_APPS) == [
        {"pid": 4242, "gpu_uuid": "GPU-aaaa", "used_mib": 1200},
        {"pid": 777, "gpu_uuid": "GPU-bbbb", "used_mib": -1},
    ]
    assert machine.visible_uuids(NVIDIA_GPUS, "1") == {"GPU-bbbb"}
    assert machine.visible_uuids(NVIDIA_GPUS, "GPU-aaaa,1") == {"GPU-aaaa", "GPU-bbbb"}
    assert machine.visible_uuids(NVIDIA_GPUS, None) is None


def test_gpu_sharers_are_others_on_the_visible_gpu(monkeypatch):
    answers = {
        "--query-compute-apps=pid,gpu_uuid,used_memory": NVIDIA_APPS,
        "--query-gpu=index,uuid": NVIDIA_GPUS,
    }
    monkeypatch.setattr(machine, "_nvidia_smi", lambda query, _format: answers[query])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert machine.gpu_sharers() == [{"pid": 4242, "used_mib": 1200}]
    monkeypatch.setattr(machine.os, "getpid", lambda: 4242)  # that process is this one
    assert machine.gpu_sharers() == []
    monkeypatch.setattr(machine, "_nvidia_smi", lambda *query: None)  # no nvidia-smi
    assert machine.gpu_sharers() is None


def test_merged_readings_keep_each_process_once_with_its_most_memory():
    before = [{"pid": 9, "used_mib": 100}]
    after = [{"pid": 9, "used_mib": 300}, {"pid": 3, "used_mib": 50}]
    assert machine.merged(before, after) == [{"pid": 3, "used_mib": 50}, {"pid": 9, "used_mib": 300}]
    assert machine.merged(None, []) == []
    assert machine.merged(None, None) is None


class _Row:
    """The busyness fields of a row."""


SPIN = "import time\nend = time.perf_counter() + {seconds}\nwhile time.perf_counter() < end: pass\n"


@LINUX
def test_another_process_spinning_reads_busy():
    # The spinner is orphaned (its shell exits at once), so it is no descendant of this process.
    code = SPIN.format(seconds=0.6)
    subprocess.run(["sh", "-c", f'"{sys.executable}" -c "{code}" >/dev/null 2>&1 &'], check=True)
    time.sleep(0.1)  # past its interpreter's start
    row = _Row()
    with machine.watched(row, "cpu"):
        time.sleep(0.4)
    assert row.other_cpu_cores > 0.5 and row.busy is True
    assert row.device_other_processes is None  # no device reading for a CPU cell
    assert row.load_1m_start >= 0 and row.load_1m_end >= 0


def _quiet_then_spinning() -> tuple[_Row, _Row]:
    """An interval asleep, then one spinning in this process."""
    quiet, spinning = _Row(), _Row()
    with machine.watched(quiet, "cpu"):
        time.sleep(0.2)
    with machine.watched(spinning, "cpu"):
        exec(SPIN.format(seconds=0.2))
    return quiet, spinning


@LINUX
def test_our_own_cpu_is_not_counted_and_a_quiet_machine_reads_not_busy():
    """Spinning in this process for the whole interval must not read as other processes: it
    reads about as the sleeping interval just before it (without the subtraction, a whole core
    more), and not busy where that one was quiet. Tolerant of a shared machine's other
    processes, whose load may change between the two: three tries."""
    tries = []
    for _ in range(3):
        quiet, spinning = _quiet_then_spinning()
        tries.append((quiet.other_cpu_cores, spinning.other_cpu_cores))
        if spinning.other_cpu_cores - quiet.other_cpu_cores < 0.5 and (quiet.busy or not spinning.busy):
            return
    pytest.fail(f"(quiet, spinning) other cores: {tries}")


@LINUX
def test_a_live_child_counts_as_our_own_cpu():
    """A descendant (e.g. a torch.compile worker) is this cell's work, not another process's."""
    before = machine.own_cpu_s()
    child = subprocess.Popen([sys.executable, "-c", SPIN.format(seconds=0.3)])
    try:
        time.sleep(0.25)
        assert child.pid in machine.descendants(machine.os.getpid())
        spent = machine._process_cpu_s(child.pid)
        assert spent > 0  # whole ticks: at least one, the interpreter's start alone takes more
        assert machine.own_cpu_s() - before >= spent - 1e-9  # read later: the child only spent more
    finally:
        child.wait()
