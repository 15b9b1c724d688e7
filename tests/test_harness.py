"""The harness's run machinery: cells, synced clocks, cells in worker processes."""

from __future__ import annotations

import pytest

from harness.cell import Cell
from harness.results import CONFIG_FIELDS
from harness.run import run_isolated
from harness.timing import spread, timed

SMALL = dict(hidden=16, channels=16, time_steps=16, batch_size=8, n_samples=16, epochs=2)


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


def test_a_rows_configuration_is_what_ran():
    """Every cell field is in the row; the spec settings left to the task are filled from the spec."""
    cell = Cell(framework="spyx_core", data="synthetic", neuron="IF", learning_rate=1e-3, **SMALL)
    row = run_isolated(cell, timeout=300)
    assert row.status == "ok", row.reason
    assert (row.neuron, row.learning_rate, row.evaluate, row.data_dir) == ("IF", 1e-3, False, None)
    assert (row.surrogate, row.surrogate_slope) == ("arctan", 2.0)  # shd_spec's, cell said None
    assert (row.n_samples, row.data, row.cell_key) == (16, "synthetic", cell.key())
    unresolved = ("n_samples", "data", "surrogate", "surrogate_slope", "channels", "time_steps")
    for name in CONFIG_FIELDS:
        if name not in unresolved:
            assert getattr(row, name) == getattr(cell, name), name
