"""Every row against the device's limit: FLOPs from the spec, the peak and the dense floor, the
row fields, and the report's columns (frameworks/flops.py, harness/floor.py, harness/limits.py)."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from result_rows import shd_row
from stub_executors import Answered, Answering

import spyx_core
from frameworks.adapters.spyx_core_adapter import network, to_haiku
from frameworks.flops import SynapticOp, forward_flops, step_flops, synaptic_ops
from frameworks.layers import LI, LIF, Conv2d, Flatten, Linear, MaxPool2d
from frameworks.spec import ModelSpec, init_weights, micro_spec, shd_spec
from harness import floor, limits
from harness.report.summary import format_summary
from harness.report.tables import epoch_table, limits_table, micro_table
from harness.results import Row, frame
from harness.run import run_cells


def _linear_spec(time_steps: int = 7) -> ModelSpec:
    layers = (Linear(n_in=3, n_out=4), LIF(size=4), Linear(n_in=4, n_out=2), LI(size=2))
    return ModelSpec(task="shd", layers=layers, time_steps=time_steps)


def _conv_spec() -> ModelSpec:
    layers = (Conv2d(in_channels=2, out_channels=3, kernel_size=3), LIF(size=(3, 4, 4)),
              MaxPool2d(), Flatten(), Linear(n_in=12, n_out=2), LI(size=2))  # fmt: skip
    return ModelSpec(task="nmnist", layers=layers, time_steps=1, input_shape=(2, 6, 6))


def test_linear_flops_by_hand():
    # B*T = 35 rows. Forward: 2*35*(3*4) + 2*35*(4*2) = 840 + 560. Weight grads the same; the
    # input gradient of the second Linear only (the first one's input is data): 560.
    spec = _linear_spec()
    assert forward_flops(spec, 5) == 1400
    assert step_flops(spec, 5) == 1400 + 1400 + 560
    roles = [(op.layer, op.role) for op in synaptic_ops(spec, 5)]
    assert roles == [(0, "forward"), (2, "forward"), (2, "input_grad"), (2, "weight_grad"),
                     (0, "weight_grad")]  # fmt: skip


def test_conv_flops_by_hand():
    # 2 frames; the conv maps 2x6x6 to 3x4x4: 3*4*4 outputs of 2*3*3 MACs each = 864 MACs per
    # frame, 2*2*864 = 3456 FLOPs; the Linear 12 -> 2 on 2 rows: 2*2*24 = 96.
    spec = _conv_spec()
    assert forward_flops(spec, 2) == 3456 + 96
    assert step_flops(spec, 2) == 2 * (3456 + 96) + 96  # the conv's input is data: no input grad


def test_recurrent_flops_by_hand():
    # C=3, H=2, T=4, B=1. Linear 3->2: 2*4*6 = 48; each recurrent weight: 4 steps of 2*1*2*2 = 32;
    # Linear 2->2: 32; Linear 2->20: 2*4*40 = 320. Forward 464; weight grads 464; input grads all
    # but the first Linear's: 416.
    spec = shd_spec(channels=3, hidden=2, time_steps=4, neuron="RLIF")
    assert forward_flops(spec, 1) == 464
    assert step_flops(spec, 1) == 464 + 464 + 416
    recurrent = {op.role: op for op in synaptic_ops(spec, 1) if op.layer == 1}
    assert (recurrent["forward"].shape, recurrent["forward"].repeats) == ((1, 2, 2), 4)
    assert (recurrent["input_grad"].shape, recurrent["input_grad"].repeats) == ((1, 2, 2), 4)
    assert (recurrent["weight_grad"].shape, recurrent["weight_grad"].repeats) == ((4, 2, 2), 1)


@pytest.mark.parametrize(("hidden", "giga"), [(128, 11.7), (512, 124.3)])
def test_paper_shd_step_from_the_formula(hidden, giga):
    channels, classes, batch, steps = 128, 20, 256, 256
    macs = channels * hidden + hidden * hidden + hidden * classes
    forward = 2 * batch * steps * macs
    input_grads = 2 * batch * steps * (hidden * hidden + hidden * classes)
    total = forward + forward + input_grads
    assert step_flops(shd_spec(hidden=hidden), batch) == total
    assert round(total / 1e9, 1) == giga


def test_micro_forward_and_step_flops():
    # Linear(4, 4) on B*T = 6 rows: 2*6*16 = 192 forward; the step adds its weight gradient only.
    spec = micro_spec(4, time_steps=3)
    assert (forward_flops(spec, 2), step_flops(spec, 2)) == (192, 384)


ELEMENTWISE_BOUND = 32
"""FLOPs per neuron and step that XLA may count beyond the matmuls in spyx_core's gradient.

Why this tolerance: with ``impl="fused"`` every matmul runs at top level, where XLA counts each
exactly (``2 M K N``), while the neurons' recurrences are loops whose bodies XLA counts once;
what remains is elementwise work (surrogate, spike counts, loss), about 11 FLOPs per neuron and
step here. One op missing from or added to the formula would move the count by ``2 n_in / 3 = 43``
FLOPs per neuron and step for this 64-wide network, beyond the bound either way."""


def test_xla_counts_the_derived_flops_in_spyx_cores_gradient():
    """The loss gradient of spyx_core's network (the step less Adam's elementwise update)."""
    n, steps, batch = 64, 4, 8
    layers = (Linear(n_in=n, n_out=n), LIF(size=n), Linear(n_in=n, n_out=n), LIF(size=n),
              Linear(n_in=n, n_out=n), LI(size=n))  # fmt: skip
    spec = ModelSpec(task="shd", layers=layers, time_steps=steps)
    weights = init_weights(spec, seed=0)
    apply = network(spec, weights, impl="fused", unroll=1).apply
    loss = functools.partial(spyx_core.integral_crossentropy, smoothing=spec.label_smoothing)
    x, labels = jnp.zeros((steps, batch, n)), jnp.zeros((batch,), jnp.int32)
    gradient = jax.value_and_grad(lambda params: loss(apply(params, x), labels))
    with jax.default_matmul_precision("highest"):
        compiled = jax.jit(gradient).lower(to_haiku(spec, weights)).compile()
    counted = compiled.cost_analysis()["flops"]
    derived = step_flops(spec, batch)
    assert derived <= counted <= derived + ELEMENTWISE_BOUND * batch * steps * 3 * n


def test_each_floor_program_computes_its_op_with_its_flops():
    """Every op of a conv net as the floor times it: XLA counts exactly the op's FLOPs, and the
    result has the shape of what the op computes (output, kernel, input)."""
    spec, device = _conv_spec(), jax.devices("cpu")[0]
    expected = {
        "conv": {"forward": (2, 3, 4, 4), "weight_grad": (3, 2, 3, 3), "input_grad": (2, 2, 6, 6)},
        "matmul": {"forward": (2, 2), "weight_grad": (12, 2), "input_grad": (2, 12)},
    }
    ops = synaptic_ops(spec, 2)
    ops.append(SynapticOp(0, "input_grad", "conv", ops[0].shape))  # a later conv layer's
    for op in ops:
        (function, shapes), *others = floor.op_programs(op)
        args = floor.operands(shapes, device)
        compiled = jax.jit(function).lower(*args).compile()
        assert compiled.cost_analysis()["flops"] == op.call_flops, op
        assert compiled(*args).shape == expected[op.kind][op.role], op
        for other, other_shapes in others:  # the other forms compute the same thing
            assert other_shapes == shapes, op
            np.testing.assert_allclose(other(*args), function(*args), rtol=1e-5, atol=1e-5)


def test_matmul_gradients_contract_as_the_backward_does():
    x, w, dy = (np.arange(6.0).reshape(3, 2), np.arange(8.0).reshape(2, 4), np.ones((3, 4)))
    programs = {role: floor.op_programs(SynapticOp(0, role, "matmul", (3, 2, 4)))[0][0]
                for role in ("forward", "weight_grad", "input_grad")}  # fmt: skip
    np.testing.assert_allclose(programs["forward"](x, w), x @ w)
    np.testing.assert_allclose(programs["weight_grad"](x, dy), x.T @ dy)
    np.testing.assert_allclose(programs["input_grad"](dy, w), dy @ w.T)


def test_peak_is_the_matmul_flops_over_its_median_seconds(monkeypatch):
    monkeypatch.setattr(floor, "seconds_per_call", lambda function, args, repeats: 0.5)
    assert floor.peak_flops_per_s(jax.devices("cpu")[0], size=32) == 2 * 32**3 / 0.5


def test_measure_times_each_distinct_op_once_on_a_tiny_shape():
    ops = [SynapticOp(0, "forward", "matmul", (8, 4, 4)), SynapticOp(2, "forward", "matmul", (8, 4, 4)),
           SynapticOp(2, "input_grad", "matmul", (8, 4, 4), repeats=3)]  # fmt: skip
    job = {"device": "cpu", "peak_size": 16, "repeats": 2, "ops": [op.to_dict() for op in ops]}
    measured = floor.measure(job)
    assert set(measured["op_seconds"]) == {"matmul:forward:8x4x4", "matmul:input_grad:8x4x4"}
    assert all(seconds > 0 for seconds in measured["op_seconds"].values())
    assert measured["peak_size"] == 16 and measured["peak_flops_per_s"] > 0
    assert measured["device_name"].startswith("cpu")
    assert set(measured["op_seconds_warm"]) == set(measured["op_seconds"])
    assert all(seconds > 0 for seconds in measured["op_seconds_warm"].values())


def test_a_warm_call_writes_the_same_result_into_its_previous_output():
    x, w = floor.operands([(8, 4), (4, 3)], jax.devices("cpu")[0])
    call = floor.warm_call(lambda a, b: a @ b, (x, w))
    first = call()
    second = call()
    assert first.is_deleted() and not second.is_deleted()  # donated to the second call
    np.testing.assert_allclose(second, np.asarray(x) @ np.asarray(w), rtol=1e-6)
    assert floor.median_seconds(call, repeats=2) > 0


OPS = [SynapticOp(0, "forward", "matmul", (8, 4, 4)).to_dict(),
       SynapticOp(1, "forward", "matmul", (2, 4, 4), repeats=3).to_dict()]  # fmt: skip
MEASURED = {"device_name": "cpu: cpu", "peak_size": 16, "peak_flops_per_s": 1e4,
            "op_seconds": {"matmul:forward:8x4x4": 0.01, "matmul:forward:2x4x4": 0.02},
            "op_seconds_warm": {"matmul:forward:8x4x4": 0.005,
                                "matmul:forward:2x4x4": 0.01}}  # fmt: skip


def test_a_training_row_against_the_limits():
    row = shd_row("spyx_core", 2.0, 3.0, steps_per_epoch=4, flops_per_step=1000, synaptic_ops=OPS)
    limits.complete(row, MEASURED)  # 0.5 s per step; floor 0.01 + 3 * 0.02 = 0.07 s
    assert row.achieved_flops_per_s == pytest.approx(2000)
    assert (row.peak_flops_per_s, row.fraction_of_peak) == (1e4, pytest.approx(0.2))
    assert row.dense_floor_s == pytest.approx(0.07)
    assert row.floor_ratio == pytest.approx(0.5 / 0.07)
    assert row.warm_floor_s == pytest.approx(0.035)  # 0.005 + 3 * 0.01
    assert row.warm_floor_ratio == pytest.approx(0.5 / 0.035)
    older = shd_row("spyx_core", 2.0, 3.0, steps_per_epoch=4, flops_per_step=1000, synaptic_ops=OPS)
    limits.complete(older, {k: v for k, v in MEASURED.items() if k != "op_seconds_warm"})
    assert older.floor_ratio == pytest.approx(0.5 / 0.07) and older.warm_floor_ratio is None


def test_a_micro_row_takes_its_forward_backward_call_and_an_unmeasured_op_leaves_no_floor():
    row = Row(framework="spyx_core", task="micro", device="cpu", step_s_median=0.25,
              flops_per_step=1000, synaptic_ops=[*OPS, {**OPS[0], "shape": [9, 9, 9]}])  # fmt: skip
    limits.complete(row, MEASURED)
    assert row.achieved_flops_per_s == pytest.approx(4000)
    assert row.fraction_of_peak == pytest.approx(0.4)
    assert row.dense_floor_s is None and row.floor_ratio is None


def test_the_request_asks_only_for_what_is_not_measured():
    rows = [Row(framework="a", task="shd", device="cpu",
                synaptic_ops=[*OPS, {**OPS[0], "role": "weight_grad"}])]  # fmt: skip
    job = limits.request(rows, MEASURED, "cpu", limits.LimitOptions(peak_size=16))
    assert job["peak_size"] is None
    assert [SynapticOp.from_dict(op).key() for op in job["ops"]] == ["matmul:weight_grad:8x4x4"]
    assert limits.request(rows, {}, "cpu", limits.LimitOptions(peak_size=32))["peak_size"] == 32
    fresh_only = {k: v for k, v in MEASURED.items() if k != "op_seconds_warm"}
    job = limits.request(rows, fresh_only, "cpu", limits.LimitOptions(peak_size=16))
    assert len(job["ops"]) == 3  # a folder measured before warm timings gets them for every op
    merged = limits.merged(fresh_only, {"device_name": "cpu: cpu", "op_seconds": {"k": 1.0},
                                        "op_seconds_warm": {"k": 0.5}})  # fmt: skip
    assert merged["op_seconds"]["k"] == 1.0 and merged["op_seconds_warm"] == {"k": 0.5}
    assert merged["op_seconds"]["matmul:forward:8x4x4"] == 0.01


class _Measuring(Answering):
    """Cells end at once with an ok SHD row that has its ops and a time."""

    def submit(self, cell, slot, *, timeout):
        row = Row.for_cell(cell, epoch_s_median=1.0, steps_per_epoch=2, flops_per_step=100,
                           synaptic_ops=OPS)  # fmt: skip
        return Answered(row)


def test_the_runner_measures_after_the_cells_once_and_fills_every_row(tmp_path, monkeypatch):
    from harness.cell import Cell

    jobs = []

    def worker(job, slot, timeout_s):
        jobs.append(job)
        seconds = {SynapticOp.from_dict(op).key(): 0.1 for op in job["ops"]}
        return {"device_name": "cpu: cpu", "peak_size": job["peak_size"], "peak_flops_per_s": 1000.0,
                "op_seconds": seconds, "op_seconds_warm": seconds}  # fmt: skip

    monkeypatch.setattr(limits, "run_floor_worker", worker)
    cells = [Cell(framework=name, hidden=8, epochs=2) for name in ("spyx_core", "snntorch")]
    options = limits.LimitOptions(peak_size=16)
    rows = run_cells(cells, tmp_path, {}, executor=_Measuring(), limit_options=options)
    assert len(jobs) == 1 and len(jobs[0]["ops"]) == 2  # the two rows share their op shapes
    for row in rows:  # 0.5 s per step, floor 0.1 + 3 * 0.1 = 0.4 s, 200 FLOP/s of 1000
        assert (row.floor_ratio, row.fraction_of_peak) == (pytest.approx(1.25), pytest.approx(0.2))
    more = [*cells, Cell(framework="norse", hidden=8, epochs=2)]
    run_cells(more, tmp_path, {}, executor=_Measuring(), limit_options=options)
    assert len(jobs) == 1  # resumed: every shape and the peak were in the folder's environment


def _measured_rows() -> list[Row]:
    common = {"steps_per_epoch": 1, "flops_per_step": 2e9, "peak_flops_per_s": 1e11}
    return [
        shd_row("spyx_core", 0.1, 3.0, floor_ratio=4.2, fraction_of_peak=0.2, **common),
        shd_row("snntorch", 1.0, 3.0, floor_ratio=42.0, fraction_of_peak=0.02, **common),
    ]


def test_the_tables_and_summary_show_the_floor_and_peak_beside_each_time():
    table = frame(_measured_rows())
    epochs = epoch_table(table, "shd").iloc[0]
    assert (epochs["spyx_core x floor"], epochs["spyx_core % peak"]) == ("4.2x", "20%")
    assert (epochs["snntorch x floor"], epochs["snntorch % peak"]) == ("42x", "2%")
    detail = limits_table(table, "shd").set_index("framework")
    assert detail.loc["snntorch", "GFLOP/step"] == "2"
    assert detail.loc["snntorch", "peak GFLOP/s"] == "100"
    assert "x warm floor" not in detail  # not measured: the table reads as before
    warm = [dataclasses.replace(r, warm_floor_ratio=8.4) for r in _measured_rows()]
    warm_detail = limits_table(frame(warm), "shd").set_index("framework")
    assert warm_detail.loc["spyx_core", "x warm floor"] == "8.4x"
    summary = format_summary(_measured_rows())
    header, spyx = summary.splitlines()[:2]
    assert "x floor" in header and "% peak" in header
    assert "4.2x" in spyx and "20%" in spyx and "peak, 100 GFLOP/s" in summary


def test_micro_table_shows_the_floor_and_peak_beside_the_forward_backward_time():
    row = Row(framework="spyx_core", task="micro", device="cpu", hidden=64, batch_size=16,
              step_s_median=0.01, floor_ratio=1.5, fraction_of_peak=0.5)  # fmt: skip
    record = micro_table(frame([row])).iloc[0]
    assert (record["spyx_core x floor"], record["spyx_core % peak"]) == ("1.5x", "50%")


def test_rows_without_limits_keep_the_tables_as_they_were():
    table = frame([shd_row("spyx_core", 0.1, 3.0)])
    assert not any("floor" in column for column in epoch_table(table, "shd").columns)
    assert "x floor" not in format_summary([shd_row("spyx_core", 0.1, 3.0)])
