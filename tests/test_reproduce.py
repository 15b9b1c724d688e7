"""Grids in isolated processes: failures stay in their cell, interrupted runs resume, reports render."""

from __future__ import annotations

import pytest
from fake_framework import CRASH_HIDDEN, HANG_HIDDEN, SLOW_HIDDEN
from stub_executors import Answered

from harness.cell import Cell
from harness.devices import Slot
from harness.executors.local import WorkerProcess
from harness.grids import table1, table2
from harness.results import Row, read_results
from harness.run import run_cells

SMALL = dict(channels=8, time_steps=8, batch_size=4, n_samples=8, epochs=2, data="synthetic")


class Recording:
    """A one-slot executor that records the hidden sizes it starts, runs them as ``local`` does (or
    answers ``row_for(cell)`` at once), and raises KeyboardInterrupt at start ``interrupt_at``."""

    name, runs_here, poll_s = "recording", False, 0.01

    def __init__(self, interrupt_at=None, row_for=None):
        self.started, self.interrupt_at, self.row_for = [], interrupt_at, row_for

    def slots(self):
        return [Slot("cpu")]

    def submit(self, cell, slot, *, timeout):
        if len(self.started) == self.interrupt_at:
            raise KeyboardInterrupt
        self.started.append(cell.hidden)
        if self.row_for is None:
            return WorkerProcess(cell, slot, timeout=timeout)
        return Answered(self.row_for(cell))


def test_a_crash_and_a_hang_are_recorded_while_other_cells_complete(tmp_path, fake_framework):
    cells = [Cell(framework=fake_framework, hidden=h, **SMALL) for h in (CRASH_HIDDEN, HANG_HIDDEN, 8)]
    rows = run_cells(cells, tmp_path / "out", {}, timeout=8)  # the hang is cut after 8 s
    assert [r.status for r in rows] == ["failed", "failed", "ok"]
    assert rows[0].reason == "RuntimeError: fake framework crashed on purpose"
    assert rows[1].reason == "timed out after 8 s"
    assert rows[2].device_name == "fake cpu" and rows[2].loss_first_step == 2.0
    saved, _ = read_results(tmp_path / "out")
    assert [r.status for r in saved] == ["failed", "failed", "ok"]


def test_interrupted_grid_resumes_without_recomputing(tmp_path, fake_framework):
    cells = [Cell(framework=fake_framework, hidden=h, **SMALL) for h in (SLOW_HIDDEN, 8, 9, 10)]
    out = tmp_path / "grid"
    with pytest.raises(KeyboardInterrupt):
        run_cells(cells, out, {"cpu": "first"}, executor=Recording(interrupt_at=2))
    assert [r.hidden for r in read_results(out)[0]] == [SLOW_HIDDEN, 8]

    resumed = Recording()
    rows = run_cells(cells, out, {"cpu": "second"}, executor=resumed)
    assert resumed.started == [9, 10]
    assert [r.hidden for r in rows] == [SLOW_HIDDEN, 8, 9, 10]
    assert all(r.status == "ok" for r in rows)
    saved, env = read_results(out)
    assert len(saved) == 4 and env["cpu"] == "first" and env["resumed"] == [{"cpu": "second"}]


def test_failed_cells_are_kept_unless_retried(tmp_path):
    cell = Cell(framework="spyx_core", **SMALL)
    executor = Recording(row_for=lambda c: Row.for_cell(c, status="failed", reason="on purpose"))
    run_cells([cell], tmp_path, {}, executor=executor)
    run_cells([cell], tmp_path, {}, executor=executor)
    assert len(executor.started) == 1
    run_cells([cell], tmp_path, {}, executor=executor, retry_failed=True)
    assert len(executor.started) == 2


def test_table1_grid_matches_the_paper():
    cells = table1(["spyx_core", "snntorch"], device="cpu", epochs=3, n_samples=512)
    assert len(cells) == 12
    assert {(c.hidden, c.batch_size) for c in cells} == {
        (h, b) for h in (128, 512) for b in (64, 128, 256)
    }
    assert all(c.time_steps == 256 and c.projected_epochs == 100 for c in cells)
    assert len({c.key() for c in cells}) == 12


def test_reproduce_and_report_end_to_end(tmp_path, fake_framework):
    """The CLI runs a (fake) reduced table1 grid, projects totals and writes tables and plots."""
    from harness import cli

    out = tmp_path / "t1"
    # --no-limits: tests/test_limits.py and test_cli.py measure the limits; --sizes: H=128 only.
    code = cli.main(
        ["reproduce", "table1", "--frameworks", fake_framework, "--device", "cpu",
         "--epochs", "2", "--samples", "256", "--data", "synthetic", "--out", str(out),
         "--timeout", "300", "--no-limits", "--sizes", "128"]
    )  # fmt: skip
    assert code == 0
    rows, _ = read_results(out)
    assert len(rows) == 3 and all(r.status == "ok" for r in rows)  # H=128 x B in {64, 128, 256}
    cell = next(r for r in rows if r.hidden == 128 and r.batch_size == 256)
    assert cell.full_steps_per_epoch == 31 and cell.steps_per_epoch == 1
    assert cell.projected_total_s == pytest.approx(100 * 31 * cell.epoch_s_median)
    report = (out / "report.md").read_text()
    assert "table1 (shd): seconds per epoch" in report
    assert "Spyx 0.1.x (paper, NVIDIA RTX A6000) s" in report
    assert (out / "table1.png").stat().st_size > 10_000
    assert (out / "table1-epochs.csv").exists()


def test_table2_grid_matches_the_paper():
    """N-MNIST conv net: m in {1, 2} x B in {32, 64, 128}, T=64, 20 epochs of half the training set."""
    cells = table2(["spyx_core"], device="cpu", epochs=3)
    assert [(c.width, c.batch_size) for c in cells] == [(m, b) for m in (1, 2) for b in (32, 64, 128)]
    assert {(c.task, c.time_steps, c.projected_epochs, c.reference_samples) for c in cells} == {
        ("nmnist", 64, 20, 30000)
    }


def test_first_keeps_the_grids_first_configurations_with_every_framework():
    """Its samples need fit only the kept configurations' batches (64 < table2's B=128)."""
    from harness import cli
    from harness.commands import reproduce

    argv = ["reproduce", "table2", "--frameworks", "spyx_core,snntorch", "--data", "synthetic",
            "--samples", "64", "--first", "2"]  # fmt: skip
    cells = reproduce.cells_from_args(cli.build_parser().parse_args(argv), "cpu")
    assert [(c.framework, c.width, c.batch_size, c.n_samples) for c in cells] == [
        ("spyx_core", 1, 32, 64), ("snntorch", 1, 32, 64),
        ("spyx_core", 1, 64, 64), ("snntorch", 1, 64, 64),
    ]  # fmt: skip
    own = Cell(framework="spyx_core", task="nmnist", width=1, batch_size=32, time_steps=64,
               projected_epochs=20, reference_samples=30000, device="cpu", epochs=4, n_samples=64,
               data="synthetic")  # fmt: skip
    assert cells[0].key() == own.key()  # a cut cell is the grid's own: a later full run resumes it
