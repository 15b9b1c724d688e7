"""``spikebench report`` and the run summary: what they print and write, from the one results frame."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from result_rows import shd_row

from harness.report import write_report
from harness.report.summary import format_summary
from harness.report.tables import epoch_table, resources_table
from harness.results import Row, frame, write_results

COMMITTED = Path(__file__).parent.parent / "results" / "cpu-2core"


def test_summary_ratio_and_loss_agreement():
    rows = [
        shd_row("spyx_core", 0.1, 3.0),
        shd_row("snntorch", 1.0, 3.0003),
        Row(framework="norse", task="shd", device="cpu", status="failed", reason="boom"),
    ]
    assert frame(rows).vs_reference.tolist()[:2] == pytest.approx([1.0, 10.0])
    text = format_summary(rows)
    assert "failed: boom" in text
    assert "largest relative deviation from spyx_core 1.00e-04" in text


def test_report_ingests_pytest_benchmark_json(tmp_path):
    rows = [Row(framework="spyx_core", task="shd", device="cpu", hidden=8, batch_size=4,
                epoch_s_median=0.1, epoch_s_min=0.09, epoch_s_max=0.2, compile_s=1.0)]  # fmt: skip
    write_results(tmp_path, rows, {})
    bench = tmp_path / "bench.json"
    bench.write_text(
        '{"benchmarks": [{"name": "test_training_step[spyx_core]", "stats": {"median": 0.01,'
        ' "iqr": 0.001, "min": 0.009, "max": 0.02, "rounds": 10}}]}'
    )
    text = write_report(tmp_path, benchmarks=[bench]).read_text()
    assert "test_training_step[spyx_core]" in text


def test_report_lists_every_rows_time_compile_and_memory(tmp_path):
    common = {"task": "shd", "device": "cpu", "hidden": 128, "batch_size": 64, "time_steps": 256}
    rows = [
        Row(framework="spyx_core", epoch_s_median=0.5, epoch_s_min=0.4, epoch_s_max=0.6,
            compile_s=1.2, peak_memory_bytes=58 * 2**20, peak_memory_source="xla plan",
            compile_kind="jax (impl=fused)", **common),
        Row(framework="spyx_core@scan", epoch_s_median=1.0, epoch_s_min=1.0, epoch_s_max=1.1,
            compile_s=9.5, peak_memory_bytes=74 * 2**20, peak_memory_source="xla plan",
            compile_kind="jax (impl=scan)", other_cpu_cores=0.9, busy=True, **common),
    ]  # fmt: skip
    write_results(tmp_path, rows, {})
    text = write_report(tmp_path).read_text()
    section = text.split("### table1: every row's time, compile and peak memory")[1]
    lines = [line for line in section.splitlines() if line.startswith("| spyx_core")]
    assert len(lines) == 2
    fused, scan = (line.split("|")[1:-1] for line in lines)
    assert [c.strip() for c in fused] == [
        "spyx_core", "128", "64", "256", "0.5 [0.4-0.6]", "1x", "1.2", "58", "jax (impl=fused)", "",
    ]  # fmt: skip
    header = section.splitlines()[2]
    columns = [c.strip() for c in header.split("|")[8:-1]]
    assert columns == ["peak MiB (xla plan)", "compiled as", "machine"]
    assert [c.strip() for c in scan][4:] == [
        "1 [1-1.1] BUSY", "2x", "9.5", "74", "jax (impl=scan)", "BUSY: 0.90 other cores",
    ]  # fmt: skip
    assert text.splitlines()[4].startswith("BUSY: 1 of 2 rows were timed")  # above the tables


def test_summary_pairs_each_row_with_the_reference_of_its_own_configuration():
    """Rows that differ only in the neuron compare against the reference with the same neuron."""
    rows = [shd_row("spyx_core", 0.1, 3.0), shd_row("spyx_core", 0.2, 3.0, neuron="ALIF")]
    rows += [shd_row("snntorch", 1.0, 3.0), shd_row("snntorch", 1.0, 3.0, neuron="ALIF")]
    lines = format_summary(rows).splitlines()
    factors = [re.search(r"\[-\]\s+(\S+)", line).group(1) for line in lines[1:5]]  # after the spread
    assert factors == ["1", "1", "10", "5"]


def test_report_pairs_each_row_with_the_reference_of_its_own_configuration():
    """Rows that differ only in T get the factor against the reference with the same T."""
    rows = [shd_row("spyx_core", 0.1, 3.0, epoch_s_min=0.1, epoch_s_max=0.1)]
    rows += [shd_row("spyx_core", 0.2, 3.0, time_steps=32, epoch_s_min=0.2, epoch_s_max=0.2)]
    rows += [shd_row("snntorch", 1.0, 3.0, time_steps=32, epoch_s_min=1.0, epoch_s_max=1.0)]
    table = resources_table(frame(rows), "shd")
    assert table[["framework", "T", "x spyx_core"]].values.tolist() == [
        ["spyx_core", 16, "1x"], ["spyx_core", 32, "1x"], ["snntorch", 32, "5x"],
    ]  # fmt: skip


def test_report_of_a_committed_schema_1_folder_is_unchanged(tmp_path):
    """An old results folder is upgraded on reading; its tables come out as committed."""
    folder = tmp_path / "shd"
    shutil.copytree(COMMITTED / "shd-h128-b64-t64", folder)
    committed = (folder / "report.md").read_text().splitlines()
    epochs = (folder / "table1-epochs.csv").read_text()
    text = write_report(folder).read_text().splitlines()
    assert text[1:] == committed[1:]  # line 0 names the folder
    assert (folder / "table1-epochs.csv").read_text() == epochs


def test_every_plotted_series_has_its_own_colour_and_hatch():
    """The Table 1 plot's measured and published bars: no colour or hatch used twice."""
    from harness.report.plots import MEASURED_STYLE, PUBLISHED_STYLE

    styles = [*MEASURED_STYLE, *PUBLISHED_STYLE]
    assert len({colour for colour, _ in styles}) == len(styles)
    assert len({hatch for _, hatch in styles}) == len(styles)
    assert len(PUBLISHED_STYLE) >= 5  # the paper's and the H100 anchors' five sources of Table 1


def test_report_of_several_folders_draws_each_cells_time_against_commit(tmp_path, capsys):
    from harness.cli import main

    folders = []
    for index, (commit, seconds) in enumerate(
        [("aaaa1111", 0.1), ("bbbb2222", 0.2), ("cccc3333", 0.15)]
    ):
        rows = [shd_row(name, seconds * factor, 3.0, epoch_s_min=seconds * factor * 0.9,
                        epoch_s_max=seconds * factor * 1.2, git_commit=commit)
                for name, factor in (("spyx_core", 1), ("snntorch", 10))]  # fmt: skip
        write_results(tmp_path / f"run{index}", rows, {})
        folders.append(str(tmp_path / f"run{index}"))
    assert main(["report", *folders, "--out", str(tmp_path / "history")]) == 0
    text = (tmp_path / "history" / "history.md").read_text()
    header = next(line for line in text.splitlines() if line.startswith("| cell"))
    assert [c.strip() for c in header.split("|")[2:-1]] == [
        "1. aaaa1111 (run0)", "2. bbbb2222 (run1)", "3. cccc3333 (run2)",
    ]  # fmt: skip
    line = next(line for line in text.splitlines() if line.startswith("| spyx_core"))
    assert [c.strip() for c in line.split("|")[2:-1]] == [
        "0.1 [0.09-0.12]", "0.2 [0.18-0.24]", "0.15 [0.135-0.18]",
    ]  # fmt: skip
    assert (tmp_path / "history" / "history.png").stat().st_size > 0
    assert "history.png" in capsys.readouterr().out


def test_report_sets_each_compiled_variant_beside_its_eager_framework(tmp_path):
    options = {"backend": "inductor", "mode": "default", "fullgraph": False, "dynamic": None}
    counts = dict(compile_options=options, graphs=2, graph_breaks=0, recompiles=1, compile_s=30.0)
    timed = [
        ("snntorch", 4.0, {}),
        ("snntorch@compile", 1.0, counts),  # 3 s saved per epoch: even after 10
        ("norse", 2.0, {}),
        ("norse@compile", 2.5, counts),  # slower compiled: never pays off
        ("torch_plain", 1.0, {}),
        ("torch_compile", 0.5, counts),  # the former name pairs with torch_plain
        ("snntorch@compile", 1.0, counts | {"hidden": 32}),  # no eager row of H=32
    ]
    rows = [shd_row(f, s, 3.0, epoch_s_min=s, epoch_s_max=s, **more) for f, s, more in timed]
    write_results(tmp_path, rows, {})
    text = write_report(tmp_path).read_text()
    section = text.split("### table1: eager and compiled, side by side")[1].split("###")[0]
    table = [[c.strip() for c in line.split("|")[1:-1]] for line in section.splitlines() if "|" in line]
    assert table[0][:5] == ["framework", "variant", "H", "B", "T"]
    lines = table[2:]  # below the header and its rule
    assert [line[:2] for line in lines] == [
        ["snntorch", "snntorch@compile"], ["norse", "norse@compile"], ["torch_plain", "torch_compile"],
        ["snntorch", "snntorch@compile"],
    ]  # fmt: skip
    assert lines[0][5:] == ["4", "1", "4x", "30", "10", "default, False", "2 / 0 / 1"]
    assert lines[1][7:10] == ["0.8x", "30", "never"]
    assert lines[2][7:10] == ["2x", "30", "60"]
    assert lines[3][5:10] == ["", "1", "", "30", ""]
    assert (tmp_path / "table1-compiled.csv").exists()


RSS = "peak RSS above baseline"


def test_each_memory_column_holds_one_measurement_and_names_it():
    rows = [
        shd_row("spyx_core", 0.1, 3.0, peak_memory_bytes=10 * 2**20, peak_memory_source=RSS),
        shd_row("snntorch", 1.0, 3.0, peak_memory_bytes=20 * 2**20, peak_memory_source=RSS),
        shd_row("norse", 2.0, 3.0, peak_memory_bytes=300 * 2**20, peak_memory_source="process max RSS"),
        shd_row("torch_plain", 2.0, 3.0),  # not measured
    ]
    table = resources_table(frame(rows), "shd").set_index("framework")
    assert table[f"peak MiB ({RSS})"].to_dict() == {
        "spyx_core": "10", "snntorch": "20", "norse": "", "torch_plain": "",
    }  # fmt: skip
    assert table["peak MiB (process max RSS)"].to_dict() == {
        "spyx_core": "", "snntorch": "", "norse": "300", "torch_plain": "",
    }  # fmt: skip
    header = format_summary(rows).splitlines()[0]
    assert f"peak MiB ({RSS})" in header and "peak MiB (process max RSS)" in header


def test_rows_timed_on_a_busy_machine_are_flagged_in_the_summary_and_the_tables():
    sharer = [{"pid": 99, "used_mib": 512}]
    machines = [
        ("spyx_core", 0.1, {"other_cpu_cores": 0.05, "busy": False}),
        ("snntorch", 1.0, {"other_cpu_cores": 0.8, "busy": True}),
        ("norse", 2.0, {"other_cpu_cores": 0.0, "device_other_processes": sharer, "busy": True}),
        ("torch_plain", 3.0, {}),  # not watched (an older run)
    ]
    rows = [shd_row(f, s, 3.0, epoch_s_min=s, epoch_s_max=s, **more) for f, s, more in machines]
    lines = format_summary(rows).splitlines()
    by_framework = {line.split()[0]: line for line in lines[1:5]}
    assert by_framework["spyx_core"].rstrip().endswith("quiet: 0.05 other cores")
    assert by_framework["snntorch"].rstrip().endswith("BUSY: 0.80 other cores")
    assert by_framework["norse"].rstrip().endswith("BUSY: 0.00 other cores, 1 other GPU processes")
    assert "BUSY" not in by_framework["torch_plain"] and "quiet" not in by_framework["torch_plain"]
    note = "BUSY: 2 of 4 rows were timed while other processes used more than 0.25 CPU cores"
    assert note in lines[-1]
    epochs = epoch_table(frame(rows), "shd").iloc[0]  # one configuration: every framework's cell
    assert epochs["spyx_core"] == "0.1 [0.1-0.1]"
    assert (epochs["snntorch"], epochs["norse"]) == ("1 [1-1] BUSY", "2 [2-2] BUSY")
    assert epochs["torch_plain"] == "3 [3-3]"  # not watched
