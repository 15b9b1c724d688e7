"""Result rows and results files: field order, atomic writes, schema versions, the upgrade, frame."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest
from result_rows import shd_row

from frameworks.spec import micro_spec
from harness.cell import Cell
from harness.errors import SpikebenchError
from harness.results import (
    CONFIG_FIELDS,
    READABLE,
    REFERENCE,
    SCHEMA,
    Row,
    frame,
    read_results,
    upgrade,
    write_results,
)

COMMITTED = sorted((Path(__file__).parent.parent / "results").glob("*/*/results.json"))


def test_results_round_trip(tmp_path):
    rows = [shd_row("spyx_core", 0.1, 3.0, versions={"jax": "0"}), shd_row("norse", 1.0, 3.0)]
    write_results(tmp_path, rows, {"cpu": "x"})
    back, env = read_results(tmp_path)
    assert back == rows and env == {"cpu": "x"}
    header = (tmp_path / "results.csv").read_text().splitlines()[0].split(",")
    assert header == Row.fields()
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["schema"] == SCHEMA == 5
    assert list(document["rows"][0]) == Row.fields()


def test_a_schema_4_row_reads_without_a_warm_floor(tmp_path):
    row = shd_row("spyx_core", 0.1, 3.0, dense_floor_s=0.05, floor_ratio=2.0).as_dict()
    del row["warm_floor_s"], row["warm_floor_ratio"]
    (tmp_path / "results.json").write_text(json.dumps({"schema": 4, "environment": {}, "rows": [row]}))
    (back,), _ = read_results(tmp_path)
    assert back.floor_ratio == 2.0 and back.warm_floor_s is None and back.warm_floor_ratio is None


def test_results_write_is_atomic(tmp_path, monkeypatch):
    write_results(tmp_path, [shd_row("spyx_core", 0.1, 3.0)], {})
    before = (tmp_path / "results.json").read_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_results(tmp_path, [shd_row("spyx_core", 0.2, 3.0)], {})
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
    (tmp_path / "results.json").write_text(json.dumps({"schema": 0, "rows": []}))
    with pytest.raises(SpikebenchError, match=r"schema 0; this spikebench reads schemas 1, 2, 3"):
        read_results(tmp_path)


def test_a_newer_schema_is_refused_in_one_line(tmp_path):
    (tmp_path / "results.json").write_text(json.dumps({"schema": SCHEMA + 1, "rows": []}))
    with pytest.raises(SpikebenchError) as error:
        read_results(tmp_path)
    message = str(error.value)
    assert "\n" not in message
    assert f"has schema {SCHEMA + 1}, newer than this spikebench reads ({SCHEMA})" in message


def test_unknown_keys_are_an_error_naming_them(tmp_path):
    row = shd_row("spyx_core", 0.1, 3.0).as_dict() | {"colour": "red", "age": 3}
    with pytest.raises(SpikebenchError, match=r"unknown row field\(s\) age, colour"):
        Row.from_dict(row)
    (tmp_path / "results.json").write_text(json.dumps({"schema": SCHEMA, "rows": [row]}))
    with pytest.raises(SpikebenchError, match=r"results\.json: unknown row field\(s\) age, colour"):
        read_results(tmp_path)


def test_row_rejects_unknown_status():
    with pytest.raises(ValueError, match="status"):
        Row(framework="x", task="shd", device="cpu", status="maybe")


def test_a_row_holds_the_whole_cell_first_in_cell_order():
    assert tuple(f.name for f in dataclasses.fields(Cell)) == CONFIG_FIELDS
    assert tuple(Row.fields()[: len(CONFIG_FIELDS)]) == CONFIG_FIELDS
    cell = Cell(framework="snntorch", neuron="ALIF", surrogate="superspike", surrogate_slope=10.0,
                learning_rate=1e-3, data="synthetic", data_dir="/data", evaluate=True,
                projected_epochs=100, reference_samples=8156)  # fmt: skip
    row = Row.for_cell(cell, status="failed")
    assert {name: getattr(row, name) for name in CONFIG_FIELDS} == cell.as_dict()
    assert row.cell_key == cell.key() and row.status == "failed"


def _schema1_row(**fields) -> dict:
    """A row as schema 1 wrote it: no neuron, slope, learning rate, data_dir, evaluate, reference."""
    new = {"neuron", "surrogate_slope", "learning_rate", "data_dir", "evaluate", "reference_samples"}
    new |= {"loss_steps"}  # schema 3
    row = Row(framework="snntorch", task="shd", device="cpu").as_dict()
    return {k: v for k, v in row.items() if k not in new} | {"n_samples": 0} | fields


def test_schema_1_rows_are_upgraded_from_what_they_say(tmp_path):
    old = [
        _schema1_row(surrogate="arctan(k=2)", batch_size=64, full_steps_per_epoch=127,
                     projected_epochs=100, epoch_s_median=1.0),
        _schema1_row(task="nmnist", surrogate="superspike(k=25)", test_accuracy=0.5),
        _schema1_row(task="micro", surrogate="", status="failed", reason="timed out"),
    ]  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps({"schema": 1, "environment": {}, "rows": old}))
    shd, nmnist, micro = read_results(tmp_path)[0]
    assert (shd.surrogate, shd.surrogate_slope, shd.learning_rate) == ("arctan", 2.0, 5e-4)
    assert (shd.neuron, shd.data_dir, shd.evaluate) == ("LIF", None, False)
    assert shd.reference_samples == 127 * 64 and shd.projected_epochs == 100
    assert (nmnist.surrogate, nmnist.surrogate_slope, nmnist.learning_rate) == ("superspike", 25.0, 2e-2)
    assert nmnist.evaluate and nmnist.reference_samples is None
    assert (micro.surrogate, micro.surrogate_slope, micro.status) == (None, None, "failed")
    assert upgrade(shd.as_dict(), SCHEMA) == shd.as_dict()
    with pytest.raises(SpikebenchError, match="no upgrade from schema 7"):
        upgrade(old[0], 7)


def test_schema_2_rows_load_with_where_they_ran_unknown(tmp_path):
    placement = ("host", "job_id", "device_index")
    old = {k: v for k, v in Row(framework="norse", task="shd", device="cpu").as_dict().items()
           if k not in placement}  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps({"schema": 2, "rows": [old]}))
    (row,) = read_results(tmp_path)[0]
    assert (row.framework, row.host, row.job_id, row.device_index) == ("norse", "", "", "")
    assert row.loss_steps == []


COMPILE_FIELDS = ("compile_options", "graphs", "graph_breaks", "recompiles", "graph_break_reasons")
"""What schema 3 added, one group (later groups follow it)."""


def test_schema_2_rows_load_without_compile_statistics(tmp_path):
    fields = Row.fields()
    start = fields.index(COMPILE_FIELDS[0])  # one group (later groups follow it)
    assert tuple(fields[start : start + len(COMPILE_FIELDS)]) == COMPILE_FIELDS
    row = shd_row("snntorch", 0.1, 3.0).as_dict()
    old = {k: v for k, v in row.items() if k not in COMPILE_FIELDS}
    (tmp_path / "results.json").write_text(json.dumps({"schema": 2, "environment": {}, "rows": [old]}))
    (back,), _ = read_results(tmp_path)
    assert back == Row.from_dict(row)
    assert (back.compile_options, back.graphs, back.graph_breaks) == ({}, None, None)
    assert back.recompiles is None
    assert back.graph_break_reasons == []


MACHINE_AND_MEMORY_FIELDS = (
    "other_cpu_cores", "load_1m_start", "load_1m_end", "device_other_processes", "busy",
    "peak_rss_above_baseline_bytes", "peak_rss_source", "xla_planned_bytes", "jax_peak_bytes_in_use",
    "torch_max_allocated_bytes", "torch_max_reserved_bytes",
)  # fmt: skip


def test_rows_written_before_the_machine_and_memory_groups_load_as_unknown(tmp_path):
    fields = Row.fields()
    start = fields.index(MACHINE_AND_MEMORY_FIELDS[0])
    assert tuple(fields[start : start + len(MACHINE_AND_MEMORY_FIELDS)]) == MACHINE_AND_MEMORY_FIELDS
    row = shd_row("snntorch", 0.1, 3.0, busy=True, other_cpu_cores=0.5).as_dict()
    old = {k: v for k, v in row.items() if k not in MACHINE_AND_MEMORY_FIELDS}
    (tmp_path / "results.json").write_text(json.dumps({"schema": 3, "environment": {}, "rows": [old]}))
    (back,), _ = read_results(tmp_path)
    assert (back.busy, back.other_cpu_cores, back.device_other_processes) == (None, None, None)
    assert (back.peak_rss_above_baseline_bytes, back.peak_rss_source) == (None, "")
    write_results(tmp_path, [Row.from_dict(row)], {})  # and the new fields survive a round trip
    assert read_results(tmp_path)[0][0] == Row.from_dict(row)


@pytest.mark.parametrize("path", COMMITTED, ids=[p.parent.name for p in COMMITTED])
def test_committed_results_load(path):
    assert json.loads(path.read_text())["schema"] in READABLE
    rows, environment = read_results(path.parent)
    assert rows and environment
    for row in rows:
        # the tasks' defaults, and scripts/cpu/trajectory.sh's --lr 0.05
        assert row.neuron == "LIF" and row.learning_rate in (5e-4, 2e-2, 0.05)
        if row.status == "ok":
            assert row.surrogate in ("arctan", "superspike") and row.surrogate_slope in (2.0, 25.0)


def test_frame_keeps_rows_vocabulary_and_pairs_on_the_whole_configuration():
    rows = [
        shd_row(REFERENCE, 0.1, 3.0),
        shd_row("snntorch", 1.0, 3.0003),
        shd_row(REFERENCE, 0.2, 3.0, time_steps=32),  # differs from the first only in T
        shd_row("snntorch", 4.0, 3.0, time_steps=32),
        shd_row("norse", 5.0, 3.0, n_samples=32),  # no reference with 32 samples
        shd_row(REFERENCE, 9.0, 3.0, hidden=32, status="failed"),  # a failed reference is none
        shd_row("snntorch", 9.0, 3.0, hidden=32),
        Row(framework="norse", task="nmnist", device="cpu", width=2, hidden=128, status="skipped"),
    ]
    table = frame(rows)
    assert list(table.columns) == [*Row.fields(), "size", "vs_reference", "loss_first_step_rel_dev"]
    assert table.vs_reference.tolist()[:4] == pytest.approx([1.0, 10.0, 1.0, 20.0])
    assert table.vs_reference[4:].isna().all()
    assert table.loss_first_step_rel_dev.tolist()[1] == pytest.approx(1e-4)
    assert table.loss_first_step_rel_dev[4:].isna().all()
    assert table["size"].tolist() == [16, 16, 16, 16, 16, 32, 32, 2]
    assert frame([]).empty and list(frame([]).columns)[: len(CONFIG_FIELDS)] == list(CONFIG_FIELDS)


def test_a_row_for_a_cell_that_never_reported_says_its_tasks_learning_rate():
    failed = Row.for_cell(Cell(framework="snntorch", task="micro", hidden=8), status="failed")
    assert failed.learning_rate == micro_spec(1).learning_rate
    chosen = Row.for_cell(Cell(framework="snntorch", task="shd", learning_rate=0.05), status="failed")
    assert chosen.learning_rate == 0.05
