"""Loss trajectories: agreement, rounding drift, semantic departure and NaN, on constructed traces;
the run's summary and the report over rows."""

from __future__ import annotations

import numpy as np
import pytest

from harness.errors import SpikebenchError
from harness.report.trajectory import format_trajectories, trace_agreement, trajectories
from harness.results import Row

REFERENCE = 3.0 - 0.01 * np.arange(40)


def test_identical_traces_agree():
    found = trace_agreement(REFERENCE, REFERENCE.copy())
    assert (found.verdict, found.first_step, found.steps, found.max_deviation) == (
        "agree",
        None,
        40,
        0.0,
    )


def test_rounding_drift_grows_gradually_and_is_not_a_departure():
    growth = 1e-7 * 1.6 ** np.arange(40)  # 1e-7 at step 0, past 1e-4 at step 15, x1.6 per step
    found = trace_agreement(REFERENCE, REFERENCE * (1 + growth))
    assert found.verdict == "drift"
    assert found.first_step == int(np.argmax(growth > 1e-4))
    assert found.deviation == pytest.approx(growth[found.first_step], rel=1e-6)


def test_a_sudden_jump_is_a_departure_at_its_step():
    trace = REFERENCE * (1 + 1e-7)
    trace[6:] += 0.3  # e.g. a reset that vanished once a beta reached zero
    found = trace_agreement(REFERENCE, trace)
    assert (found.verdict, found.first_step) == ("departure", 6)
    assert found.deviation == pytest.approx(0.3 / REFERENCE[6], rel=1e-6)
    assert "step 6" in found.reason


def test_a_difference_from_the_first_step_is_a_departure():
    found = trace_agreement(REFERENCE, REFERENCE * 1.01)
    assert (found.verdict, found.first_step) == ("departure", 0)


def test_a_nan_loss_is_a_departure_at_its_first_step():
    trace = REFERENCE.copy()
    trace[9:] = np.nan
    found = trace_agreement(REFERENCE, trace)
    assert (found.verdict, found.first_step) == ("departure", 9)
    assert "non-finite" in found.reason


def test_the_tolerance_decides_what_agrees():
    trace = REFERENCE * (1 + 5e-5)
    assert trace_agreement(REFERENCE, trace, rtol=1e-4).verdict == "agree"
    assert trace_agreement(REFERENCE, trace, rtol=1e-5).verdict == "departure"


def _row(framework: str, losses, **fields) -> Row:
    return Row(
        framework=framework, task="shd", device="cpu", status="ok", loss_steps=list(losses), **fields
    )


def test_rows_of_one_configuration_are_compared_with_the_reference():
    departing = REFERENCE.copy()
    departing[5:] *= 1.1
    rows = [
        _row("spyx_core", REFERENCE),
        _row("snntorch", REFERENCE * (1 + 1e-7)),
        _row("norse", departing),
        _row("spikingjelly", departing, semantics="resets at once"),
        _row("snntorch", REFERENCE, hidden=512),  # another configuration: no reference row
    ]
    table = trajectories(rows).set_index("framework")
    assert list(table.index) == ["snntorch", "norse", "spikingjelly"]
    assert table.loc["snntorch", "verdict"] == "agree"
    assert (table.loc["norse", "verdict"], table.loc["norse", "first_step"]) == ("departure", 5)
    assert not table.loc["spikingjelly", "exact"]
    text = format_trajectories(rows)
    assert "norse: departure: beyond 0.0001 at step 5" in text
    assert "spikingjelly (declared inexact): departure" in text


def test_one_framework_is_no_comparison_and_an_absent_reference_is_refused():
    assert "one framework" in format_trajectories([_row("snntorch", REFERENCE)])
    rows = [_row("snntorch", REFERENCE), _row("norse", REFERENCE)]
    assert "no spyx_core row" in format_trajectories(rows)
    with pytest.raises(SpikebenchError, match="reference 'torch_plain' has no trained row"):
        trajectories(rows, reference="torch_plain")
    with pytest.raises(SpikebenchError, match="tolerance must be positive"):
        trajectories(rows, reference="norse", rtol=0)
    assert trajectories(rows, reference="norse").verdict.tolist() == ["agree"]


def test_a_departure_shared_by_frameworks_that_follow_each_other_names_them():
    jumped = REFERENCE.copy()
    jumped[18:] *= 1 + 4e-4  # e.g. one spike flipping in the reference only
    alone = REFERENCE.copy()
    alone[18:] *= 1.05
    rows = [
        _row("spyx_core", REFERENCE),
        _row("snntorch", jumped),
        _row("norse", jumped * (1 + 1e-8)),
        _row("torch_plain", alone),
    ]
    table = trajectories(rows).set_index("framework")
    assert table.loc["snntorch", "agrees_with"] == ["norse"]
    assert table.loc["norse", "agrees_with"] == ["snntorch"]
    assert table.loc["torch_plain", "agrees_with"] == []
    text = format_trajectories(rows)
    assert "snntorch: departure: beyond 0.0001 at step 18" in text
    assert "agrees throughout with norse" in text
    assert (
        "torch_plain: departure" in text and "torch_plain" not in text.split("norse:")[1].split("\n")[0]
    )


def test_a_first_step_loss_of_ln_k_is_flagged_as_vacuous():
    from harness.report.summary import format_summary

    paper = {"hidden": 128, "batch_size": 256, "time_steps": 256}
    uniform = _row("spyx_core", REFERENCE, loss_first_step=float(np.log(20)), **paper)
    assert "vacuous: shd H=128 B=256 T=256: the first-step loss is ln 20" in format_summary([uniform])
    informative = _row("spyx_core", REFERENCE, loss_first_step=3.45)
    assert "vacuous" not in format_summary([informative])
