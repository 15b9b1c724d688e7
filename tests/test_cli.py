"""The command line: one line and exit 2 for every library error, and a run end to end."""

from __future__ import annotations

import subprocess
import sys

from harness import cli
from harness.results import read_results


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
