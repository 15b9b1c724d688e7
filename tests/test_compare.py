"""``spikebench compare``: verdicts on constructed results, refusals, pytest-benchmark JSON, and
``--interleave``'s alternation (with a stand-in runner: no real timing here)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from result_rows import SHD_ROW

from frameworks.flops import SynapticOp
from harness.cell import Cell
from harness.cli import main
from harness.compare import compare, decide, folder_samples, min_two_sided_p
from harness.errors import InvalidConfiguration
from harness.interleave import interleave, side_environ
from harness.limits import LIMITS, LimitOptions
from harness.results import Row, read_results, write_results
from harness.worker import TEST_SLOWDOWN_ENV, injected_slowdown_s


def _row(framework: str, seconds: list[float], **fields) -> Row:
    """An ok SHD row whose timed epochs are ``seconds`` (after a 1 s warm-up)."""
    config = SHD_ROW | {"versions": {"jax": "0.10.2"}, "device_name": "cpu"} | fields
    return Row(framework=framework, epoch_s_all=[1.0, *seconds], timed_epochs=len(seconds), **config)


def _folder(path, rows):
    write_results(path, rows, {})
    return path


def _noisy(n: int, scale: float, seed: int) -> list[float]:
    """``n`` epoch times around ``scale`` s with 3% noise."""
    return list(scale * (1 + 0.03 * np.random.default_rng(seed).standard_normal(n)))


def _compare(tmp_path, base_rows, new_rows, capsys):
    base = _folder(tmp_path / "base", base_rows)
    new = _folder(tmp_path / "new", new_rows)
    status = main(["compare", str(base), str(new)])
    return status, capsys.readouterr()


def _verdicts(out: str) -> dict[str, str]:
    lines = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| spyx")]
    lines += [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| snn")]
    return {cells[0].strip(): cells[6].strip() for cells in lines}


def test_identical_results_are_the_same(tmp_path, capsys):
    rows = [_row("spyx_core", _noisy(10, 0.5, 0)), _row("snntorch", _noisy(10, 2.0, 1))]
    status, out = _compare(tmp_path, rows, rows, capsys)
    assert status == 0
    assert set(_verdicts(out.out).values()) == {"same"}


def test_a_2x_slowdown_with_10_samples_a_side_is_slower_and_fails(tmp_path, capsys):
    base = [_row("spyx_core", _noisy(10, 0.5, 0)), _row("snntorch", _noisy(10, 2.0, 1))]
    new = [_row("spyx_core", _noisy(10, 1.0, 2)), _row("snntorch", _noisy(10, 2.0, 3))]
    status, out = _compare(tmp_path, base, new, capsys)
    assert status == 1
    verdicts = _verdicts(out.out)
    assert verdicts == {
        "spyx_core shd H=16 B=8 T=16": "**slower**", "snntorch shd H=16 B=8 T=16": "same",
    }  # fmt: skip


def test_a_slowdown_measured_on_a_busy_machine_is_inconclusive_and_does_not_fail(tmp_path, capsys):
    base = [_row("spyx_core", _noisy(10, 0.5, 0)), _row("snntorch", _noisy(10, 2.0, 1))]
    new = [_row("spyx_core", _noisy(10, 1.0, 2), busy=True), _row("snntorch", _noisy(10, 2.0, 3))]
    status, out = _compare(tmp_path, base, new, capsys)
    assert status == 0
    assert _verdicts(out.out) == {
        "spyx_core shd H=16 B=8 T=16": "inconclusive", "snntorch shd H=16 B=8 T=16": "same",
    }  # fmt: skip
    assert "new measured on a busy machine" in out.out


def test_a_5_percent_change_is_the_same_even_when_significant():
    base, new = _noisy(10, 1.0, 0), _noisy(10, 1.05, 1)
    ratio, p, verdict, why = decide(base, new)
    assert verdict == "same" and why == "within x1.1"
    assert 1.0 < ratio < 1.1
    spread = [1.0 + 0.001 * i for i in range(10)]  # no overlap at all: p is tiny
    ratio, p, verdict, _ = decide(spread, [1.05 * s for s in spread])
    assert p < 0.002 and verdict == "same"


def test_a_2x_speedup_is_faster():
    assert decide(_noisy(10, 2.0, 0), _noisy(10, 1.0, 1))[2] == "faster"


def test_too_few_samples_are_inconclusive(tmp_path, capsys):
    base = [_row("spyx_core", [0.5, 0.51, 0.49])]
    new = [_row("spyx_core", [1.0, 1.01, 0.99])]  # twice as slow, but 3 + 3 samples
    status, out = _compare(tmp_path, base, new, capsys)
    assert status == 0
    assert _verdicts(out.out) == {"spyx_core shd H=16 B=8 T=16": "inconclusive"}
    assert "3+3 samples cannot reach p < 0.002" in out.out


def test_the_smallest_p_decides_how_many_samples_are_enough():
    assert min_two_sided_p(6, 6) == pytest.approx(2 / 924) and min_two_sided_p(6, 6) > 0.002
    assert min_two_sided_p(7, 7) == pytest.approx(2 / 3432) and min_two_sided_p(7, 7) < 0.002
    assert decide([1.0 + 0.01 * i for i in range(6)], [2.0 + 0.01 * i for i in range(6)])[2] == (
        "inconclusive"
    )
    assert decide([1.0 + 0.01 * i for i in range(7)], [2.0 + 0.01 * i for i in range(7)])[2] == "slower"


def test_beyond_the_factor_without_significance_is_inconclusive():
    base = [1.0, 3.0, 1.1, 2.9, 1.2, 2.8, 1.3, 2.7, 1.4, 2.6]
    new = [1.5 * s for s in base]
    _, p, verdict, why = decide(base, new)
    assert verdict == "inconclusive" and p >= 0.002 and why == "beyond x1.1 but p >= 0.002"


@pytest.mark.parametrize(
    ("field", "changed", "named"),
    [
        ("time_steps", {"time_steps": 32}, "time_steps: 16 -> 32"),
        ("versions", {"versions": {"jax": "0.10.3"}}, "versions[jax]: '0.10.2' -> '0.10.3'"),
        ("device_name", {"device_name": "NVIDIA H100"}, "device_name: 'cpu' -> 'NVIDIA H100'"),
    ],
)
def test_a_changed_definition_is_refused_naming_the_field(tmp_path, capsys, field, changed, named):
    base = [_row("spyx_core", _noisy(10, 0.5, 0))]
    new = [_row("spyx_core", _noisy(10, 0.5, 0), **changed)]
    status, out = _compare(tmp_path, base, new, capsys)
    assert status == 2
    assert "refusing to compare spyx_core shd" in out.err and named in out.err
    assert out.out == ""


def test_cells_on_one_side_only_are_listed_not_compared(tmp_path, capsys):
    base = [_row("spyx_core", _noisy(10, 0.5, 0))]
    new = [*base, _row("norse", _noisy(10, 3.0, 1))]
    status, out = _compare(tmp_path, base, new, capsys)
    assert status == 0
    assert "- only in new: norse shd H=16 B=8 T=16" in out.out


def _benchmark_json(path, median: float, rounds: int, seed: int):
    data = _noisy(rounds, median, seed)
    bench = {
        "name": "test_training_step[spyx_core-shd]",
        "fullname": "tests/test_bench.py::test_training_step[spyx_core-shd]",
        "params": {"name": "spyx_core", "task": "shd"},
        "stats": {"median": float(np.median(data)), "rounds": rounds, "data": data},
    }
    document = {"machine_info": {"cpu": {"brand_raw": "AMD EPYC"}}, "benchmarks": [bench]}
    path.write_text(json.dumps(document))
    return path


def test_pytest_benchmark_json_is_compared_on_its_rounds(tmp_path, capsys):
    base = _benchmark_json(tmp_path / "base.json", 0.01, 10, 0)
    slower = _benchmark_json(tmp_path / "new.json", 0.02, 10, 1)
    assert main(["compare", str(base), str(slower)]) == 1
    out = capsys.readouterr().out
    assert "tests/test_bench.py::test_training_step[spyx_core-shd]" in out and "**slower**" in out
    assert "10+10" in out
    assert main(["compare", str(base), str(base)]) == 0


def test_pytest_benchmark_json_without_rounds_data_is_refused(tmp_path, capsys):
    path = _benchmark_json(tmp_path / "base.json", 0.01, 10, 0)
    document = json.loads(path.read_text())
    del document["benchmarks"][0]["stats"]["data"]
    path.write_text(json.dumps(document))
    assert main(["compare", str(path), str(path)]) == 2
    assert "--benchmark-save-data" in capsys.readouterr().err


def test_rows_of_one_cell_from_fresh_processes_give_one_sample_each(tmp_path):
    rows = [_row("spyx_core", [0.1 * i, 0.1 * i + 0.02, 0.1 * i + 0.04]) for i in range(1, 8)]
    (cell,) = folder_samples(_folder(tmp_path, rows))
    assert cell.seconds == pytest.approx([0.1 * i + 0.02 for i in range(1, 8)])


def test_busy_processes_are_left_out_and_the_quiet_ones_decide(tmp_path):
    slow = [_row("spyx_core", [2.0 + 0.01 * i] * 2) for i in range(10)]
    # three base processes were busy, and their times would have hidden the slow-down
    base = [_row("spyx_core", [4.0] * 2, busy=True) for _ in range(3)]
    base += [_row("spyx_core", [1.0 + 0.01 * i] * 2) for i in range(7)]
    (old,) = folder_samples(_folder(tmp_path / "base", base))
    assert (old.busy, old.busy_left_out, len(old.seconds)) == (False, 3, 7)
    assert max(old.seconds) < 1.1  # the busy processes' 4 s are not among the samples
    (verdict,), _ = compare([old], folder_samples(_folder(tmp_path / "new", slow)))
    assert verdict.verdict == "slower" and verdict.why.endswith("busy processes left out: base 3")


def test_too_many_busy_processes_leave_too_few_samples_to_decide(tmp_path):
    base = [_row("spyx_core", [1.0 + 0.01 * i] * 2, busy=i < 7) for i in range(10)]
    new = [_row("spyx_core", [2.0 + 0.01 * i] * 2) for i in range(10)]
    sides = (folder_samples(_folder(tmp_path / side, rows)) for side, rows in (("b", base), ("n", new)))
    (verdict,), _ = compare(*sides)
    assert verdict.verdict == "inconclusive" and "3+10 samples cannot reach" in verdict.why


def test_a_cell_whose_every_process_was_busy_is_flagged_busy(tmp_path):
    rows = [_row("spyx_core", [1.0, 1.0], busy=True) for _ in range(8)]
    (cell,) = folder_samples(_folder(tmp_path, rows))
    assert (cell.busy, cell.busy_left_out, len(cell.seconds)) == (True, 0, 8)


def test_interleave_alternates_the_sides_cell_by_cell(tmp_path, monkeypatch):
    for side in ("base", "head"):
        (tmp_path / side / "harness").mkdir(parents=True)
        (tmp_path / side / "harness" / "worker.py").touch()
    monkeypatch.setenv(TEST_SLOWDOWN_ENV, "snntorch:0.01")
    calls = []

    def runner(cell, *, timeout, checkout, environ):
        calls.append((checkout.name, cell.framework, environ.get(TEST_SLOWDOWN_ENV)))
        return Row.for_cell(cell, epoch_s_all=[1.0, 0.5], timed_epochs=1)

    cells = [Cell(framework=name, hidden=8, channels=8, time_steps=8) for name in ("a", "b")]
    checkouts = {side: tmp_path / side for side in ("base", "head")}
    folders = interleave(cells, checkouts, tmp_path / "out", {}, rounds=7, runner=runner)
    assert [c[:2] for c in calls[:4]] == [("base", "a"), ("head", "a"), ("base", "a"), ("head", "a")]
    assert [c[1] for c in calls] == ["a"] * 14 + ["b"] * 14
    assert {c[2] for c in calls if c[0] == "base"} == {None}  # the slow-down reaches head only
    assert {c[2] for c in calls if c[0] == "head"} == {"snntorch:0.01"}
    assert len(read_results(folders["head"])[0]) == 14
    with pytest.raises(InvalidConfiguration, match="at least 7"):
        interleave(cells, checkouts, tmp_path / "other", {}, rounds=6, runner=runner)
    with pytest.raises(InvalidConfiguration, match="holds results already"):
        interleave(cells, checkouts, tmp_path / "out", {}, rounds=7, runner=runner)


def test_interleave_measures_the_limits_once_and_fills_both_sides(tmp_path):
    for side in ("base", "head"):
        (tmp_path / side / "harness").mkdir(parents=True)
        (tmp_path / side / "harness" / "worker.py").touch()
    op = {"layer": 0, "role": "forward", "kind": "matmul", "shape": [4, 8, 8], "repeats": 1}
    seconds = {"base": 0.4, "head": 0.6}

    def runner(cell, *, timeout, checkout, environ):
        s = seconds[checkout.name]
        return Row.for_cell(cell, epoch_s_all=[1.0, s], timed_epochs=1, epoch_s_median=s,
                            steps_per_epoch=2, flops_per_step=1e9, synaptic_ops=[op])  # fmt: skip

    requests = []

    def measure(rows, environment, device, slot, options):
        requests.append((len(rows), device, slot.name))
        key = SynapticOp.from_dict(op).key()
        measured = {"peak_flops_per_s": 1e10, "peak_size": 64, "op_seconds": {key: 0.1}}
        return {**environment, LIMITS: {device: measured}}

    cells = [Cell(framework="a", hidden=8, channels=8, time_steps=8)]
    checkouts = {side: tmp_path / side for side in ("base", "head")}
    folders = interleave(cells, checkouts, tmp_path / "out", {"host": "h"}, rounds=7, runner=runner,
                         limit_options=LimitOptions(peak_size=64), measure=measure)  # fmt: skip
    assert requests == [(14, "cpu", "cpu")]  # once, for both sides' rows
    for side, expected in seconds.items():
        rows, env = read_results(folders[side])
        assert env[LIMITS]["cpu"]["peak_flops_per_s"] == 1e10 and env["side"] == side
        step = expected / 2
        assert [r.floor_ratio for r in rows] == pytest.approx([step / 0.1] * 7)
        assert [r.fraction_of_peak for r in rows] == pytest.approx([1e9 / step / 1e10] * 7)

    def failing(*args):
        raise RuntimeError("the limits worker timed out")

    folders = interleave(cells, checkouts, tmp_path / "out2", {}, rounds=7, runner=runner,
                         limit_options=LimitOptions(), measure=failing)  # fmt: skip
    rows, env = read_results(folders["head"])  # the times stay; only the limits are missing
    assert len(rows) == 7 and LIMITS not in env and {r.floor_ratio for r in rows} == {None}


def test_the_test_only_slowdown_is_read_for_its_framework_alone(monkeypatch):
    monkeypatch.setenv(TEST_SLOWDOWN_ENV, "snntorch:0.25")
    assert injected_slowdown_s("snntorch") == 0.25 and injected_slowdown_s("norse") == 0.0
    assert side_environ("base").get(TEST_SLOWDOWN_ENV) is None
    monkeypatch.setenv(TEST_SLOWDOWN_ENV, "snntorch")
    with pytest.raises(Exception, match="FRAMEWORK:SECONDS"):
        injected_slowdown_s("snntorch")


def test_compare_returns_verdicts_in_the_new_sides_order(tmp_path):
    base = _folder(tmp_path / "b", [_row("snntorch", [1.0] * 8), _row("spyx_core", [1.0] * 8)])
    new = _folder(tmp_path / "n", [_row("spyx_core", [1.0] * 8), _row("snntorch", [1.0] * 8)])
    verdicts, notes = compare(folder_samples(base), folder_samples(new))
    assert [v.new.group[0] for v in verdicts] == ["spyx_core", "snntorch"] and notes == []
