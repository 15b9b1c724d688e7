"""Accuracy beside speed: real data measures the test split by default, ``--no-evaluate`` skips it,
the synthetic twin only when asked; the row records what ran and the report shows it beside time."""

from __future__ import annotations

import pytest
from datasets_fixtures import write_shd
from result_rows import shd_row

from harness import cli
from harness.cell import Cell
from harness.commands import reproduce, run
from harness.errors import InvalidConfiguration
from harness.report.summary import format_summary
from harness.report.tables import epoch_table
from harness.results import frame
from harness.worker import run_cell

TRAIN, TEST = 16, 12  # samples in the fixture's SHD splits


@pytest.fixture
def real_shd(tmp_path):
    """A data folder with tiny real-format SHD train and test files."""
    data_dir = tmp_path / "data"
    write_shd(data_dir, "train", n=TRAIN)
    write_shd(data_dir, "test", n=TEST, seed=1)
    return data_dir


def _evaluates(command, argv: list[str]) -> set:
    args = cli.build_parser().parse_args(argv)
    return {cell.evaluate for cell in command.cells_from_args(args, "cpu")}


@pytest.mark.parametrize(
    "data, flags, expected",
    [
        ("real", [], True),
        ("auto", [], True),  # the files are there: auto is real
        ("real", ["--no-evaluate"], False),
        ("synthetic", [], False),
        ("synthetic", ["--evaluate"], True),
    ],
)
def test_run_and_reproduce_evaluate_real_data_by_default(real_shd, data, flags, expected):
    shared = ["--frameworks", "spyx_core,snntorch", "--data", data, "--data-dir", str(real_shd), *flags]
    assert _evaluates(run, ["run", "--task", "shd", *shared]) == {expected}
    assert _evaluates(reproduce, ["reproduce", "table1", *shared]) == {expected}


def test_the_micro_benchmark_never_evaluates():
    """It has no test split: the grid leaves ``--evaluate`` out, a cell refuses it."""
    assert _evaluates(reproduce, ["reproduce", "micro", "--frameworks", "spyx_core", "--evaluate"]) == {
        False
    }
    with pytest.raises(InvalidConfiguration, match="no test split"):
        Cell(framework="spyx_core", task="micro", evaluate=True)


def test_auto_is_resolved_where_the_kind_is_known_and_keeps_the_explicit_key():
    synthetic = Cell(framework="spyx_core", data="synthetic")
    assert synthetic.evaluate is False
    assert synthetic.key() == Cell(framework="spyx_core", data="synthetic", evaluate=False).key()
    assert Cell(framework="spyx_core", data="real").evaluate is True
    assert Cell(framework="spyx_core", data="auto").evaluate is None  # the worker resolves it


@pytest.mark.parametrize(
    "data, evaluate, measured", [("auto", None, True), ("real", False, False)]
)  # fmt: skip
def test_the_row_records_what_the_worker_evaluated(real_shd, fake_framework, data, evaluate, measured):
    """The fake adapter's ``evaluate`` answers loss 2.0 and accuracy 0.5 on the whole test split."""
    cell = Cell(framework=fake_framework, data=data, data_dir=str(real_shd), evaluate=evaluate,
                channels=128, time_steps=16, batch_size=8, epochs=2)  # fmt: skip
    row = run_cell(cell)
    assert row.status == "ok", row.reason
    assert (row.data, row.n_samples, row.evaluate) == ("real", TRAIN, measured)
    expected = (0.5, 2.0, TEST) if measured else (None, None, None)
    assert (row.test_accuracy, row.test_loss, row.test_samples) == expected


def _rows():
    evaluated = dict(evaluate=True, test_samples=TEST)
    return [
        shd_row("spyx_core", 0.1, 3.0, test_accuracy=0.75, **evaluated),
        shd_row("snntorch", 0.2, 3.0, test_accuracy=0.0, **evaluated),  # measured: 0, not blank
        shd_row("norse", 0.3, 3.0, evaluate=False),
        shd_row("spyx_core", 0.1, 3.0, batch_size=4, evaluate=False),
    ]


def test_the_report_shows_test_accuracy_beside_time_blank_when_not_measured():
    table = epoch_table(frame(_rows()), "shd").set_index("B")
    columns = ["spyx_core test acc", "snntorch test acc", "norse test acc"]
    assert all(name in table.columns for name in columns)
    assert table.loc[8, columns].tolist() == ["0.750", "0.000", ""]
    assert table.loc[4, "spyx_core test acc"] == ""  # a row that did not evaluate
    assert table.columns.get_loc("spyx_core test acc") == table.columns.get_loc("spyx_core") + 1


def test_no_accuracy_column_when_nothing_evaluated():
    rows = [r for r in _rows() if not r.evaluate]
    assert not any("test acc" in name for name in epoch_table(frame(rows), "shd").columns)


def test_the_summary_prints_test_accuracy():
    lines = format_summary(_rows()).splitlines()
    header, spyx_core, snntorch, norse = lines[:4]
    start = header.index("test_acc")
    cells = [line[start : start + len("test_acc")].strip() for line in (spyx_core, snntorch, norse)]
    assert cells == ["0.750", "0.000", ""]
