"""The command line: one line and exit 2 for every library error, and a run end to end."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from frameworks.flops import step_flops
from frameworks.spec import shd_spec
from harness import cli
from harness.results import SCHEMA, read_results


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
        "--frameworks", "spyx_core,snntorch",
        "--hidden", "16", "--time-steps", "16", "--batch-size", "8",
        "--samples", "16", "--epochs", "2", "--out", str(out), "--peak-size", "64",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows, env = read_results(out)
    assert {r.framework for r in rows} == {"spyx_core", "snntorch"}
    assert all(r.status == "ok" and r.data == "synthetic" for r in rows)
    losses = [r.loss_first_step for r in rows]
    assert max(losses) - min(losses) <= 1e-4 * abs(losses[0])
    assert env["git_commit"] is not None and "jax" in env["versions"]
    assert "largest relative deviation from spyx_core" in done.stdout
    # Against the device's limit: measured after the cells, once for the shapes they share.
    spec = shd_spec(channels=rows[0].channels, hidden=16, time_steps=16)
    assert all(r.flops_per_step == step_flops(spec, 8) for r in rows)
    for r in rows:
        step_s = r.epoch_s_median / r.steps_per_epoch
        assert r.floor_ratio == pytest.approx(step_s / r.dense_floor_s) and r.dense_floor_s > 0
        assert r.warm_floor_ratio == pytest.approx(step_s / r.warm_floor_s) and r.warm_floor_s > 0
        assert r.fraction_of_peak == pytest.approx(r.flops_per_step / step_s / r.peak_flops_per_s)
    assert env["limits"]["cpu"]["peak_size"] == 64
    header = next(line for line in done.stdout.splitlines() if line.startswith("framework"))
    assert "GFLOP/step" in header and "x floor" in header and "% peak" in header


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def _errors():
    import frameworks
    from harness.datasets import DatasetMissing
    from harness.errors import SpikebenchError
    from spyx_core.nir import NIRGraphError

    return {
        kind.__name__: kind
        for kind in (
            SpikebenchError,
            DatasetMissing,
            frameworks.UnknownFramework,
            frameworks.FrameworkUnavailable,
            frameworks.Unsupported,
        )
    } | {"NIRGraphError": lambda message: NIRGraphError(None, message)}


@pytest.mark.parametrize("kind", _errors())
def test_every_library_error_is_one_line_and_exit_2(kind, tmp_path, monkeypatch, capsys):
    from harness.commands import report

    def failing(args):
        raise _errors()[kind]("first line\n  second line")

    monkeypatch.setattr(report, "run", failing)
    assert cli.main(["report", str(tmp_path)]) == 2
    assert _one_line_error(capsys) == "spikebench: error: first line second line"


def test_other_errors_are_not_hidden(tmp_path, monkeypatch):
    from harness.commands import report

    def buggy(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(report, "run", buggy)
    with pytest.raises(ZeroDivisionError):
        cli.main(["report", str(tmp_path)])


def test_an_impossible_grid_is_one_line(tmp_path, capsys):
    argv = ["reproduce", "table1", "--frameworks", "spyx_core", "--device", "cpu", "--data",
            "synthetic", "--samples", "32", "--out", str(tmp_path / "t1")]  # fmt: skip
    assert cli.main(argv) == 2
    assert _one_line_error(capsys) == "spikebench: error: 32 samples cannot fill one batch of 64"
    assert not (tmp_path / "t1").exists()


def test_missing_real_data_is_one_line(tmp_path, capsys):
    argv = ["run", "--frameworks", "spyx_core", "--device", "cpu", "--data", "real",
            "--data-dir", str(tmp_path), "--out", str(tmp_path / "out")]  # fmt: skip
    assert cli.main(argv) == 2
    line = _one_line_error(capsys)
    assert line.startswith(f"spikebench: error: SHD train data not found: folder {tmp_path}/SHD")
    assert "or use --data synthetic" in line


def test_a_newer_results_file_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "results.json").write_text(json.dumps({"schema": SCHEMA + 1, "rows": []}))
    assert cli.main(["report", str(tmp_path)]) == 2
    assert f"newer than this spikebench reads ({SCHEMA}): update spikebench" in _one_line_error(capsys)


@pytest.mark.parametrize("command", ["run", "reproduce table1"])
def test_epochs_need_a_warm_up_and_a_timed_epoch(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([*command.split(), "--epochs", "1"])
    assert exit_.value.code == 2
    assert (
        "--epochs: must be at least 2: one warm-up and one timed epoch, got 1" in capsys.readouterr().err
    )


def test_shared_flags_are_the_same_in_every_command():
    """run and reproduce take each shared flag with the same default and type."""
    parser = cli.build_parser()
    run = parser.parse_args(["run"])
    grid = parser.parse_args(["reproduce", "micro"])
    shared = ("frameworks", "device", "epochs", "samples", "seed", "timeout", "out", "data", "data_dir")
    assert {name: getattr(run, name) for name in shared} == {
        name: getattr(grid, name) for name in shared
    }
    assert (run.epochs, run.device, run.timeout, run.data) == (4, "auto", 3600.0, "auto")
    train = parser.parse_args(["train", "--samples", "64", "--seed", "3", "--data", "synthetic"])
    assert (train.samples, train.seed, train.data, train.epochs) == (64, 3, "synthetic", 5)
