"""Spike rates, readout and NeuroBench's synaptic operations (frameworks.activity) on hand-made
inputs and weights; the vacuous flags and tables built on them (harness.report)."""

from __future__ import annotations

import numpy as np
import pytest
from result_rows import shd_row

from frameworks.activity import (
    conv_fan_out,
    layer_synops,
    measure_activity,
    synapses,
)
from frameworks.spec import LI, LIF, RIF, Conv2d, Linear, ModelSpec, init_weights, shd_spec
from harness.report.summary import format_summary
from harness.report.tables import activity_table
from harness.report.vacuous import readout_is_zero, vacuous_activity
from harness.results import Row, frame


def test_linear_synops_count_every_spike_times_its_nonzero_fan_out():
    weight = np.array([[1.0, 0.0], [0.5, -2.0], [3.0, 1.0]], np.float32)  # fan-out 1, 2, 2
    x = np.zeros((2, 2, 3), np.float32)  # [T, B, n_in]
    x[0, 0] = [1, 0, 1]
    x[1, 0] = [0, 1, 0]
    x[1, 1] = [1, 1, 1]
    ops = layer_synops(Linear(n_in=3, n_out=2), weight, x)
    assert ops.effective_acs == ((1 + 2) + 2 + (1 + 2 + 2)) / 2  # fan-outs of every spike / B
    assert ops.effective_macs == 0.0
    assert ops.dense == 3 * 2 * 2  # n_in * n_out * T
    dense_weight = np.ones((3, 2), np.float32)  # no zero weight: ACs are nnz * n_out / B
    assert layer_synops(Linear(n_in=3, n_out=2), dense_weight, x).effective_acs == 6 * 2 / 2


def test_count_encoded_steps_are_multiply_accumulates_per_step():
    weight = np.ones((2, 3), np.float32)
    x = np.array([[[2.0, 0.0]], [[1.0, -1.0]], [[0.0, 0.0]]], np.float32)  # [T=3, B=1, 2]
    ops = layer_synops(Linear(n_in=2, n_out=3), weight, x)
    assert ops.effective_macs == 1 * 3  # step 0 holds a 2: one nonzero input, fan-out 3
    assert ops.effective_acs == 2 * 3  # step 1 holds only +-1 (NeuroBench's binary test)
    assert ops.dense == 2 * 3 * 3


def test_conv_fan_out_is_exact_at_the_border():
    ones = np.ones((1, 1, 2, 2), bool)  # 1 output channel, 2x2 kernel, on a 3x3 input
    assert conv_fan_out(ones, (1, 3, 3)).tolist() == [[[1, 2, 1], [2, 4, 2], [1, 2, 1]]]


def test_conv_fan_out_matches_a_loop_over_every_connection():
    rng = np.random.default_rng(0)
    weight = rng.normal(size=(2, 2, 3, 3)) * (rng.random((2, 2, 3, 3)) < 0.6)  # some zero taps
    shape = (2, 4, 5)
    expected = np.zeros(shape, np.int64)
    for o, c, a, b in np.ndindex(weight.shape):
        for p, q in np.ndindex(shape[1] - 2, shape[2] - 2):
            expected[c, p + a, q + b] += weight[o, c, a, b] != 0
    assert np.array_equal(conv_fan_out(weight != 0, shape), expected)


def test_conv_synops_weight_each_spike_by_its_border_exact_fan_out():
    x = np.zeros((2, 2, 1, 3, 3), np.float32)  # [T, B, C, H, W]
    x[0, 0, 0, 0, 0] = 1  # a corner: reaches 1 output
    x[0, 0, 0, 1, 1] = 1  # the centre: reaches 4
    x[1, 1, 0, 0, 1] = 1  # an edge: reaches 2
    ops = layer_synops(Conv2d(in_channels=1, out_channels=1, kernel_size=2), np.ones((1, 1, 2, 2)), x)
    assert ops.effective_acs == (1 + 4 + 2) / 2
    assert ops.dense == 2 * 4 * 4  # T * (k * k taps at each of the 2x2 outputs)


def test_recurrent_weights_are_a_connection_set_fed_by_the_layer_itself():
    found = synapses(shd_spec(channels=3, hidden=4, time_steps=2, neuron="RLIF"))
    assert [(s.index, s.source, s.recurrent, s.shape) for s in found] == [
        (0, -1, False, (3,)), (1, 1, True, (4,)), (2, 1, False, (4,)),
        (3, 3, True, (4,)), (4, 3, False, (4,)),
    ]  # fmt: skip


def test_rates_readout_and_synops_of_a_network_forced_to_fire_or_stay_silent():
    layers = (Linear(n_in=2, n_out=3), LIF(size=3), Linear(n_in=3, n_out=2), RIF(size=2),
              Linear(n_in=2, n_out=4), LI(size=4))  # fmt: skip
    spec = ModelSpec(task="shd", layers=layers, time_steps=3)
    firing = init_weights(spec, seed=0) | {
        "0.weight": np.full((2, 3), 10.0, np.float32),  # input 20 at every step: fires throughout
        "1.beta": np.full(3, 0.5, np.float32),
        "2.weight": np.full((3, 2), 10.0, np.float32),
        "3.recurrent": np.array([[0.1, 0.0], [0.1, 0.1]], np.float32),  # 3 nonzero
        "4.weight": np.ones((2, 4), np.float32),
        "5.beta": np.full(4, 0.8, np.float32),
    }
    silent = firing | {"2.weight": np.full((3, 2), -10.0, np.float32)}  # -30: the RIF never fires
    spikes = np.ones((2, 3, 2), np.float32)  # [B, T, n_in]
    fire, quiet = measure_activity(spec, spikes, [firing, silent])
    assert fire.spike_rates == {"1.LIF": 1.0, "3.RIF": 1.0}
    assert quiet.spike_rates == {"1.LIF": 1.0, "3.RIF": 0.0}
    # u[t] = 0.8 u[t-1] + 2 (two spikes, weight 1): 2, 3.6, 4.88
    assert fire.readout_abs_mean == pytest.approx((2 + 3.6 + 4.88) / 3, rel=1e-6)
    assert quiet.readout_abs_mean == 0.0
    # per sample: T*2*3 + T*3*2, the feedback's 2 late steps x 3 nonzero, T*2*4 (readout layer)
    assert fire.synops.effective_acs == 18 + 18 + 6 + 24
    assert quiet.synops.effective_acs == 18 + 18
    assert fire.synops.effective_macs == quiet.synops.effective_macs == 0.0
    assert fire.synops.dense == quiet.synops.dense == 3 * (6 + 6 + 4 + 8)


def _active(framework: str, first: dict, final: dict, readout: float = 0.5, **fields) -> Row:
    return shd_row(
        framework, 1.0, 3.0, spike_rates_first=first, spike_rates_final=final,
        readout_abs_mean_first=readout, readout_abs_mean_final=readout, synops_acs_first=1.5e4,
        synops_acs_final=1.25e4, synops_macs_first=0.0, synops_macs_final=0.0, synops_dense=4.2e4,
        **fields,
    )  # fmt: skip


def test_a_silent_hidden_layer_is_flagged_as_vacuous_by_name():
    healthy = {"1.LIF": 0.05, "3.LIF": 0.02}
    silent = {"1.LIF": 0.05, "3.LIF": 5e-5}
    rows = [_active("spyx_core", silent, healthy), _active("snntorch", silent, healthy)]
    (warning,) = vacuous_activity(rows)  # the initial weights are shared: one line, not two
    assert "at the initial weights, layer 3.LIF (rate 5e-05) is silent" in warning
    assert "1.LIF" not in warning
    late = [_active("spyx_core", healthy, healthy), _active("snntorch", healthy, {"1.LIF": 0.0})]
    (warning,) = vacuous_activity(late)
    assert "at the final weights, snntorch: layer 1.LIF (rate 0) is silent" in warning
    assert vacuous_activity([_active("spyx_core", healthy, healthy)]) == []


def test_a_readout_within_the_loss_tolerance_of_zero_is_flagged():
    row = _active("spyx_core", {"1.LIF": 0.05}, {"1.LIF": 0.05})  # K = 20, T = 16
    bound = 1e-4 * np.log(20) / (20 * 16)  # K T mean|u| <= 1e-4 ln K
    assert readout_is_zero(row, 0.99 * bound) and not readout_is_zero(row, 1.01 * bound)
    quiet = _active("spyx_core", {"1.LIF": 0.05}, {"1.LIF": 0.05}, readout=0.0)
    assert "the readout is about 0 (mean |u| 0)" in " ".join(vacuous_activity([quiet]))


def test_summary_and_report_show_rates_and_synops(tmp_path):
    from harness.report import _activity_section

    row = _active("spyx_core", {"1.LIF": 0.05, "3.LIF": 0.02}, {"1.LIF": 0.04, "3.LIF": 0.0125})
    silent = _active("spyx_core", {"1.LIF": 0.0}, {"1.LIF": 0.0}, hidden=32)
    lines = _activity_section(frame([row, silent]), [row, silent], tmp_path, "table1")
    assert "| 0.02 -> 0.0125 |" in "\n".join(lines)
    assert lines[-3:-1] == [
        "- vacuous: shd H=32 B=8 T=16: on the first batch at the initial weights, layer 1.LIF "
        "(rate 0) is silent, so the first steps agree whatever the layers downstream of it compute",
        "- vacuous: shd H=32 B=8 T=16: on the first batch at the final weights, spyx_core: layer "
        "1.LIF (rate 0) is silent, so the last steps agree whatever the layers downstream of it compute",
    ]
    assert (tmp_path / "table1-activity.csv").read_text().startswith("framework,H,B,T,1.LIF rate,")
    table = activity_table(frame([row]), "shd").iloc[0]
    assert (table["1.LIF rate"], table["3.LIF rate"]) == ("0.05 -> 0.04", "0.02 -> 0.0125")
    assert (table["ACs"], table["MACs"], table["dense"]) == ("1.5e+04 -> 1.25e+04", "0 -> 0", "4.2e+04")
    text = format_summary([row])
    assert "shd activity on the first training batch" in text and "0.02 -> 0.0125" in text
    failed = activity_table(frame([shd_row("spyx_core", 1.0, 3.0, activity_error="boom")]), "shd")
    assert failed.iloc[0]["activity"] == "failed: boom"


def test_a_failed_activity_keeps_the_row_and_says_why():
    from harness.cell import Cell
    from harness.worker import record_activity

    class Raising:
        def weights(self):
            raise RuntimeError("no weights here")

    class Empty:
        def weights(self):
            return {"0.weight": np.zeros((3, 4), np.float32)}

    cell = Cell(framework="spyx_core", task="shd", hidden=4, batch_size=2, n_samples=2, time_steps=2)
    spec = shd_spec(channels=3, hidden=4, time_steps=2, neuron="IF")  # IF: no beta to miss
    for session, error in [
        (Raising(), "RuntimeError: no weights here"),
        (Empty(), "ValueError: the session's weights lack 2.weight, 4.weight, 5.beta"),
    ]:
        row = Row.for_cell(cell, epoch_s_median=1.5)
        record_activity(row, spec, None, cell, session)
        assert row.activity_error == error
        assert row.epoch_s_median == 1.5 and row.spike_rates_first == {}
