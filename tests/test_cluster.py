"""Cells beyond one worker at a time: submitit executors, device slots, Slurm job scripts, the
results-folder lock, and interrupts that leave no worker behind. All on the fake adapter."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from fake_framework import CRASH_HIDDEN, HANG_HIDDEN, install, read_log
from stub_executors import Answering

from harness import cli, environment
from harness.cell import Cell
from harness.claims import CLAIMS_ENV
from harness.commands._executor_flags import executor_from_args
from harness.devices import InvalidDevices, gpu_slots
from harness.errors import SpikebenchError
from harness.executors.submitit_jobs import SubmititExecutor, parse_slurm_time
from harness.lock import LOCK_NAME, FolderBusy, FolderLock
from harness.results import Row, read_results, write_results
from harness.run import run_cells

SMALL = dict(channels=8, time_steps=8, batch_size=4, n_samples=8, epochs=2, data="synthetic")
REPO = Path(__file__).resolve().parent.parent
HANG_TIMEOUT = 10
"""Seconds before the hanging cell is cut: room for a worker's start-up while the suite's other
process shares the cores (4 s was not)."""


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """The fake adapter in this process and in workers, its log, and a private claims folder."""
    folder = install(tmp_path / "site")
    path = os.pathsep.join([str(folder), str(REPO), os.environ.get("PYTHONPATH", "")])
    monkeypatch.setenv("PYTHONPATH", path)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("FAKEFW_LOG", str(tmp_path / "fakefw.log"))
    monkeypatch.setenv(CLAIMS_ENV, str(tmp_path / "claims"))
    return tmp_path / "fakefw.log"


def _cells(*hidden: int, device: str = "cpu") -> list[Cell]:
    return [Cell(framework="fakefw", hidden=h, device=device, **SMALL) for h in hidden]


def _starts(log: Path) -> dict[int, dict]:
    return {entry["hidden"]: entry for entry in read_log(log) if entry["event"] == "start"}


def test_submitit_local_grid_two_gpus_failures_and_a_rerun_of_what_is_missing(tmp_path, fake):
    """Three cells on two (pretend) GPUs through submitit's local executor: one row per cell, the
    hang and the crash failed, each cell confined to its slot's GPU, the others beside the hang; a
    re-run with one more cell (through another executor) computes only that one."""
    out = tmp_path / "out"
    cells = _cells(HANG_HIDDEN, 8, CRASH_HIDDEN, device="gpu")
    executor = SubmititExecutor(out / ".submitit", cluster="local", slots=gpu_slots((0, 1)))
    rows = run_cells(cells, out, {}, timeout=HANG_TIMEOUT, executor=executor)
    assert [r.status for r in rows] == ["failed", "ok", "failed"]
    assert rows[0].reason == f"timed out after {HANG_TIMEOUT} s"
    assert rows[2].reason == "RuntimeError: fake framework crashed on purpose"
    assert len({r.job_id for r in rows}) == 3 and all(r.job_id and r.host for r in rows)
    starts = _starts(fake)
    for row in rows:  # the worker saw only its slot's GPU, and the row says which
        assert row.device_index in ("0", "1")
        assert starts[row.hidden]["cuda"] == row.device_index
    hang = starts[HANG_HIDDEN]
    for other in (starts[8], starts[CRASH_HIDDEN]):  # one after the other, beside the hang
        assert other["cuda"] != hang["cuda"] and other["time"] < hang["time"] + HANG_TIMEOUT
    assert {r.cell_key for r in read_results(out)[0]} == {c.key() for c in cells}

    rerun = Answering()
    again = run_cells([*cells, *_cells(10, device="gpu")], out, {}, executor=rerun)
    assert rerun.started == [10]
    assert again[:3] == rows and len(read_results(out)[0]) == 4


def _args(*argv: str):
    return cli.build_parser().parse_args(["reproduce", "table1", *argv])


def test_devices_flag_gives_each_slot_its_own_gpu_and_refuses_absent_ones(tmp_path, monkeypatch):
    monkeypatch.setattr(environment, "gpus", lambda: ["GPU A, 1, 80 GiB", "GPU B, 1, 80 GiB"])
    executor = executor_from_args(_args("--devices", "0,1"), "gpu", tmp_path, 12)
    assert [s.env() for s in executor.slots()] == [
        {"CUDA_VISIBLE_DEVICES": "0"},
        {"CUDA_VISIBLE_DEVICES": "1"},
    ]
    with pytest.raises(InvalidDevices, match=r"names GPU 5; this machine has GPUs 0-1"):
        executor_from_args(_args("--devices", "0,5"), "gpu", tmp_path, 12)
    with pytest.raises(InvalidDevices, match="cpu cells run one at a time"):
        executor_from_args(_args("--devices", "0"), "cpu", tmp_path, 12)
    with pytest.raises(InvalidDevices, match="names a GPU twice"):
        executor_from_args(_args("--devices", "1,1"), "gpu", tmp_path, 12)
    with pytest.raises(SpikebenchError, match="--slurm-partition applies to --executor slurm"):
        executor_from_args(_args("--slurm-partition", "gpu"), "gpu", tmp_path, 12)
    with pytest.raises(SystemExit):
        _args("--max-parallel", "0")


FAKE_SBATCH = """#!/bin/sh
cp "$1" "{folder}/job.sh"
echo "Submitted batch job 4242"
"""


@pytest.fixture
def fake_slurm(tmp_path, monkeypatch):
    """``sbatch`` (keeps the job script, answers job 4242), ``srun`` and ``scancel`` on PATH."""
    bin_ = tmp_path / "slurm-bin"
    bin_.mkdir()
    commands = {"sbatch": FAKE_SBATCH.format(folder=bin_), "srun": "#!/bin/sh\n",
                "scancel": f'#!/bin/sh\necho "$@" >> "{bin_}/scancel.txt"\n'}  # fmt: skip
    for name, text in commands.items():
        (bin_ / name).write_text(text)
        (bin_ / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_}{os.pathsep}{os.environ['PATH']}")
    return bin_


def test_slurm_job_script_asks_for_what_the_flags_say(tmp_path, fake_slurm):
    # fmt: off
    flags = ["--executor", "slurm", "--slurm-partition", "gpu-a100", "--slurm-time", "2:00:00",
             "--slurm-gpus-per-cell", "2", "--slurm-cpus-per-cell", "8", "--slurm-account", "proj",
             "--slurm-qos", "high", "--slurm-exclusive", "--slurm-option", "constraint=a100"]
    asked = ["--gpus-per-node=2", "--time=120", "--partition=gpu-a100", "--cpus-per-task=8",
             "--account=proj", "--qos=high", "--exclusive", "--constraint=a100", "--nodes=1"]
    # fmt: on
    executor = executor_from_args(_args(*flags), "gpu", tmp_path, 12)
    (cell,) = _cells(8, device="gpu")
    job = executor.submit(cell, executor.slots()[0], timeout=600)
    script = (fake_slurm / "job.sh").read_text()
    for line in asked:
        assert f"#SBATCH {line}\n" in script, line
    assert "-m submitit.core._submit" in script and job.job_id == "4242"
    job.cancel()
    assert "4242" in (fake_slurm / "scancel.txt").read_text()

    cpu = executor_from_args(_args("--executor", "slurm"), "cpu", tmp_path, 12)
    cpu.submit(*_cells(8), cpu.slots()[0], timeout=600)
    script = (fake_slurm / "job.sh").read_text()
    assert "--gpus-per-node" not in script and "#SBATCH --time=20\n" in script  # 600 s + 10 min
    assert len(cpu.slots()) == 12 and parse_slurm_time("1-00:30") == 24 * 60 + 30


def test_slurm_without_sbatch_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    argv = [
        "reproduce",
        "table1",
        "--executor",
        "slurm",
        "--device",
        "cpu",
        "--out",
        str(tmp_path / "o"),
    ]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(
        "spikebench: error: --executor slurm needs Slurm's sbatch, which is not on"
    )


def test_a_held_folder_is_refused_stale_locks_taken_and_foreign_rows_kept(tmp_path, fake, capsys):
    out = tmp_path / "out"
    with (
        FolderLock(out),
        pytest.raises(FolderBusy, match=rf"in use by another spikebench run \(pid {os.getpid()}"),
    ):
        run_cells(_cells(8), out, {}, executor=Answering())
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    lock = {"pid": int(dead.stdout), "start": "", "host": os.uname().nodename}
    (out / LOCK_NAME).write_text(json.dumps(lock))
    foreign = Row.for_cell(_cells(99)[0])

    def another_run_saves(cell):  # as if a second run wrote into the folder meanwhile
        write_results(
            out, [*read_results(out)[0], foreign] if (out / "results.json").exists() else [foreign], {}
        )

    run_cells(_cells(8, 9), out, {}, executor=Answering(another_run_saves))
    assert "removing the stale lock" in capsys.readouterr().err
    assert sorted(r.hidden for r in read_results(out)[0]) == [8, 9, 99]
    assert not (out / LOCK_NAME).exists()


def test_another_run_on_the_same_device_is_warned_about(tmp_path, fake, capsys):
    claims = tmp_path / "claims"
    claims.mkdir()
    other = {"pid": os.getppid(), "host": os.uname().nodename, "start": "", "device": "cpu",
             "indices": None, "out": "results/theirs"}  # fmt: skip
    (claims / "other.json").write_text(json.dumps(other))
    run_cells(_cells(8), tmp_path / "out", {}, executor=Answering())
    assert (
        f"another spikebench run (pid {os.getppid()}, results in results/theirs) is timing on cpu"
        in (capsys.readouterr().err)
    )


RUNNER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from harness.cell import Cell
    from harness.devices import Slot
    from harness.executors.submitit_jobs import SubmititExecutor
    from harness.run import run_cells

    out, cells, executor = Path(sys.argv[1]), [Cell(**c) for c in json.loads(sys.argv[2])], None
    if sys.argv[3] == "submitit-local":
        executor = SubmititExecutor(out / ".submitit", cluster="local", slots=[Slot("cpu")])
    run_cells(cells, out, {}, timeout=600, executor=executor, wait=True)
    """
)


def _runner(out: Path, cells: list[Cell], executor: str = "local") -> subprocess.Popen:
    cells_json = json.dumps([c.as_dict() for c in cells])
    command = [sys.executable, "-c", RUNNER, str(out), cells_json, executor]
    return subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=REPO)


def test_two_concurrent_runs_into_one_out_lose_no_row(tmp_path, fake):
    out = tmp_path / "out"
    first, second = _runner(out, _cells(8)), _runner(out, _cells(9))
    errors = [p.communicate(timeout=120)[1] for p in (first, second)]
    assert (first.returncode, second.returncode) == (0, 0), errors
    assert sorted(r.hidden for r in read_results(out)[0]) == [8, 9]
    assert any("in use by another spikebench run" in e and "waiting" in e for e in errors)


@pytest.mark.parametrize(
    ("executor", "sig"), [("local", signal.SIGINT), ("submitit-local", signal.SIGTERM)]
)
def test_an_interrupt_ends_the_running_worker_and_marks_its_cell(tmp_path, fake, executor, sig):
    out = tmp_path / "out"
    runner = _runner(out, _cells(HANG_HIDDEN), executor)
    # The runner's cell timeout (600 s) stays far beyond this wait. With 60 s, one full-suite run
    # on a loaded 2-core machine took 60 s for both cases and the local runner exited 0 with the
    # hang "timed out": the timeout, not the signal, had ended its run.
    deadline = time.monotonic() + 240
    while HANG_HIDDEN not in _starts(fake) and time.monotonic() < deadline:
        time.sleep(0.05)
    worker = _starts(fake)[HANG_HIDDEN]["pid"]
    runner.send_signal(sig)
    runner.communicate(timeout=60)
    assert runner.returncode != 0
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)
    (row,) = read_results(out)[0]
    assert row.status == "interrupted" and "resumed run recomputes it" in row.reason
    assert not (out / LOCK_NAME).exists()
