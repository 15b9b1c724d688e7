"""The harness: rows and atomic results files, the summary, cells in worker processes, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from harness import cli
from harness.cell import Cell
from harness.errors import SpikebenchError
from harness.results import Row, read_results, write_results
from harness.run import run_isolated
from harness.summary import format_summary, summary_frame
from harness.timing import spread, timed

SMALL = dict(hidden=16, channels=16, time_steps=16, batch_size=8, n_samples=16, epochs=2)


def _row(framework: str, epoch_s: float, loss: float, **extra) -> Row:
    return Row(
        framework=framework,
        task="shd",
        device="cpu",
        data="synthetic",
        hidden=16,
        batch_size=8,
        time_steps=16,
        n_samples=16,
        epoch_s_median=epoch_s,
        loss_first_step=loss,
        **extra,
    )


def test_results_round_trip(tmp_path):
    rows = [_row("spyx_core", 0.1, 3.0, versions={"jax": "0"}), _row("norse", 1.0, 3.0)]
    write_results(tmp_path, rows, {"cpu": "x"})
    back, env = read_results(tmp_path)
    assert back == rows and env == {"cpu": "x"}
    header = (tmp_path / "results.csv").read_text().splitlines()[0].split(",")
    assert header == Row.fields()


def test_results_write_is_atomic(tmp_path, monkeypatch):
    write_results(tmp_path, [_row("spyx_core", 0.1, 3.0)], {})
    before = (tmp_path / "results.json").read_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_results(tmp_path, [_row("spyx_core", 0.2, 3.0)], {})
    assert (tmp_path / "results.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv", "results.json"]


def test_read_results_rejects_bad_files(tmp_path):
    with pytest.raises(SpikebenchError, match=r"no results\.json"):
        read_results(tmp_path)
    (tmp_path / "results.json").write_text("{not json")
    with pytest.raises(SpikebenchError, match="not valid JSON"):
        read_results(tmp_path)
    (tmp_path / "results.json").write_text(json.dumps({"schema": 99, "rows": []}))
    with pytest.raises(SpikebenchError, match="schema 99"):
        read_results(tmp_path)


def test_row_rejects_unknown_status():
    with pytest.raises(ValueError, match="status"):
        Row(framework="x", task="shd", device="cpu", status="maybe")


def test_summary_ratio_and_loss_agreement():
    rows = [
        _row("spyx_core", 0.1, 3.0),
        _row("snntorch", 1.0, 3.0003),
        Row(framework="norse", task="shd", device="cpu", status="failed", reason="boom"),
    ]
    frame = summary_frame(rows)
    assert frame.vs_spyx_core.tolist()[:2] == pytest.approx([1.0, 10.0])
    text = format_summary(rows)
    assert "failed: boom" in text
    assert "largest relative deviation from spyx_core 1.00e-04" in text


def test_timed_synchronises_around_the_work():
    calls = []
    result, seconds = timed(lambda: calls.append("work") or 7, lambda: calls.append("sync"))
    assert (result, calls) == (7, ["sync", "work", "sync"]) and seconds >= 0
    assert spread([3.0, 1.0, 2.0]) == (2.0, 1.0, 3.0)
    assert spread([]) == (None, None, None)


def test_cell_validates_its_configuration():
    with pytest.raises(ValueError, match="cannot fill one batch"):
        Cell(framework="spyx_core", batch_size=64, n_samples=10)
    with pytest.raises(ValueError, match="hidden must be at least 1"):
        Cell(framework="spyx_core", hidden=0)


def test_worker_records_a_crash_as_a_failed_row():
    cell = Cell(framework="snntorch", surrogate="no-such-surrogate", data="synthetic", **SMALL)
    row = run_isolated(cell, timeout=120)
    assert row.status == "failed"
    assert "unknown surrogate 'no-such-surrogate'" in row.reason


def test_worker_time_limit_gives_a_failed_row():
    cell = Cell(framework="spyx_core", data="synthetic", **SMALL)
    row = run_isolated(cell, timeout=0.5)
    assert (row.status, row.reason) == ("failed", "timed out after 0.5 s")


def test_unsupported_device_is_a_skip_not_a_crash():
    cell = Cell(framework="norse", device="tpu", data="synthetic", **SMALL)
    row = run_isolated(cell, timeout=120)
    assert row.status == "skipped" and "TPU" in row.reason


def test_cli_rejects_unknown_framework_in_one_line(capsys):
    code = cli.main(["run", "--frameworks", "spyx_core,nosuch", "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith("spikebench: error: unknown framework 'nosuch'; registered: ")
    assert "norse, snntorch" in err[0] and "spyx_core" in err[0]


def test_cli_run_end_to_end(tmp_path):
    """The installed console script runs every framework and writes both results files."""
    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "harness.cli", "run", "--device", "cpu", "--data", "synthetic",
        "--frameworks", "spyx_core,snntorch,norse",
        "--hidden", "16", "--time-steps", "16", "--batch-size", "8",
        "--samples", "16", "--epochs", "2", "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows, env = read_results(out)
    assert {r.framework for r in rows} == {"spyx_core", "snntorch", "norse"}
    assert all(r.status == "ok" and r.data == "synthetic" for r in rows)
    losses = [r.loss_first_step for r in rows]
    assert max(losses) - min(losses) <= 1e-4 * abs(losses[0])
    assert env["git_commit"] is not None and "jax" in env["versions"]
    assert "largest relative deviation from spyx_core" in done.stdout
