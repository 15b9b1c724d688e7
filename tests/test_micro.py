"""The Open Neuromorphic micro-benchmark: its spec, every adapter's kernels, worker and report."""

from __future__ import annotations

import os

import numpy as np
import pytest
from fake_framework import install

import frameworks
from frameworks.conformance.equivalence import compare_kernels
from frameworks.spec import LI, LIF, Linear, ModelSpec, init_weights, micro_input, micro_spec, shd_spec
from harness.cell import Cell
from harness.errors import SpikebenchError
from harness.report import write_report
from harness.results import Row, write_results
from harness.worker import run_cell

EXACT = frameworks.available(exact_only=True)
"""Every importable adapter claiming the canonical model (torch_compile's compile is too slow here)."""
INEXACT = [name for name in frameworks.available() if name not in EXACT]
GAIN = 4.0
"""Scale of the initial weight: at Haiku's scale and input rate 0.1 the n=32 layer barely fires;
at 4x about 12 % of the neuron-steps spike, so resets shape the trajectory."""


@pytest.fixture(scope="module")
def micro() -> ModelSpec:
    return micro_spec(32, time_steps=20)


@pytest.fixture(scope="module")
def active(micro: ModelSpec) -> dict[str, np.ndarray]:
    weights = init_weights(micro, seed=0)
    return weights | {"0.weight": (GAIN * weights["0.weight"]).astype(np.float32)}


@pytest.fixture(scope="module")
def spikes(micro: ModelSpec) -> np.ndarray:
    return micro_input(micro, batch_size=16, seed=0)


def test_micro_spec_is_one_linear_and_one_lif_with_spikes_out():
    spec = micro_spec(64)
    assert spec.task == "micro" and spec.time_steps == 500
    assert spec.layers == (Linear(n_in=64, n_out=64), LIF(size=64))
    assert spec.input_shape == (64,) and spec.shapes == [(64,), (64,)]
    assert spec.n_classes is None
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert sorted(init_weights(spec, seed=0)) == ["0.weight", "1.beta"]
    assert micro_spec(8, time_steps=20, surrogate="superspike").surrogate == "superspike"
    assert shd_spec().n_classes == 20  # a readout network still has classes


def test_a_network_ends_with_a_readout_or_a_spiking_layer():
    with pytest.raises(ValueError, match="ends with an LI readout"):
        ModelSpec(task="micro", layers=(Linear(n_in=4, n_out=4),), time_steps=5)
    with pytest.raises(ValueError, match="ends with an LI readout"):
        ModelSpec(task="shd", layers=(Linear(n_in=4, n_out=4), LI(size=(2, 2))), time_steps=5)


def test_micro_input_is_seeded_bernoulli_spikes(micro):
    first = micro_input(micro, batch_size=16, seed=3)
    assert first.shape == (16, 20, 32) and first.dtype == np.float32
    assert set(np.unique(first)) == {0.0, 1.0}
    assert 0.07 < first.mean() < 0.13
    np.testing.assert_array_equal(first, micro_input(micro, batch_size=16, seed=3))
    assert not np.array_equal(first, micro_input(micro, batch_size=16, seed=4))


@pytest.mark.parametrize("name", [n for n in EXACT if n != "spyx_core"])
def test_kernels_match_spyx_core(name, micro, active, spikes):
    """Identical spike trains and equal gradients of ``output.sum()``: the timed work is the same."""
    report = compare_kernels(frameworks.load("spyx_core"), frameworks.load(name), micro, active, spikes)
    assert report.ok, str(report)
    assert [c.quantity for c in report.comparisons] == ["output", "grad 0.weight", "grad 1.beta"]


@pytest.mark.parametrize("name", INEXACT)
def test_kernels_of_inexact_adapters_differ(name, micro, active, spikes):
    """The check has teeth: Spyx 0.1.x and SpikingJelly compute other functions."""
    report = compare_kernels(frameworks.load("spyx_core"), frameworks.load(name), micro, active, spikes)
    assert not report.ok


@pytest.mark.parametrize("name", EXACT)
def test_readout_of_a_spiking_network_is_its_spikes(name, micro, active, spikes):
    """``readout`` returns the last layer's spikes (snnTorch used to return its membrane)."""
    out = frameworks.load(name).readout(micro, active, spikes)
    assert out.shape == (20, 16, 32)
    assert set(np.unique(out)) == {0.0, 1.0}
    assert 0.05 < out.mean() < 0.3
    expected = frameworks.load("spyx_core").readout(micro, active, spikes)
    np.testing.assert_array_equal(out, expected)


MICRO_CELL = dict(task="micro", hidden=32, channels=32, batch_size=16, time_steps=20, device="cpu")


@pytest.mark.parametrize("name", ["spyx_core", "snntorch"])
def test_run_cell_measures_the_micro_benchmark(name):
    row = run_cell(Cell(framework=name, **MICRO_CELL))
    assert row.status == "ok", row.reason
    assert row.task == "micro" and row.hidden == 32 and row.epochs == 0
    assert row.calls == 10  # tiny calls: the full N
    for kind in ("forward_s", "step_s"):
        low, median, high = (getattr(row, f"{kind}_{s}") for s in ("min", "median", "max"))
        assert 0 < low <= median <= high
    # No ordering of forward against forward+backward is asserted: at this size (~0.1 ms a call)
    # scheduling noise on a shared CI core can invert them.
    assert row.epoch_s_median is None and row.loss_first_step is None
    assert row.data == "random spikes, Bernoulli(0.1), seed 0"
    # Its forward+backward call's FLOPs: 2 * B * T * n * n forward and as many for the weight
    # gradient (the layer's input is data), over the median call.
    b, t, n = MICRO_CELL["batch_size"], MICRO_CELL["time_steps"], 32
    assert row.flops_per_step == 2 * (2 * b * t * n * n)
    assert row.achieved_flops_per_s == pytest.approx(row.flops_per_step / row.step_s_median)
    # Every framework's headline on the CPU is the same measurement, its backend's figures apart.
    # In this long-lived process a tiny network may fit in pages freed before (0 above baseline).
    assert row.peak_memory_bytes == row.peak_rss_above_baseline_bytes >= 0
    assert row.peak_memory_source == row.peak_rss_source == "peak RSS above baseline"
    assert row.torch_max_allocated_bytes is None and row.jax_peak_bytes_in_use is None  # no CUDA
    assert row.busy is not None and row.other_cpu_cores >= 0  # the machine was watched
    if name == "spyx_core":
        assert row.compile_kind.startswith("jax lower+compile") and row.compile_s > 0
        assert row.xla_planned_bytes > 16 * 32 * 4  # at least the input's and the weights' bytes
    else:
        assert row.compile_kind.startswith("none (eager") and row.compile_s is None
        assert row.xla_planned_bytes is None


def test_an_adapter_without_kernels_is_skipped(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(install(tmp_path / "site")))
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(tmp_path / "site"), os.environ.get("PYTHONPATH", "")])
    )
    row = run_cell(Cell(framework="fakefw", **MICRO_CELL))
    assert row.status == "skipped"
    assert row.reason == "fakefw has no micro-benchmark kernels (Adapter.kernels)"


def test_a_micro_cell_is_square():
    with pytest.raises(SpikebenchError, match="channels == hidden"):
        run_cell(Cell(framework="spyx_core", **(MICRO_CELL | {"channels": 16})))


def _micro_row(framework: str, n: int, ms: float, **fields) -> Row:
    seconds = {
        f"{kind}_s_{stat}": ms * scale * factor / 1e3
        for kind, scale in (("forward", 0.4), ("step", 1.0))
        for stat, factor in (("median", 1.0), ("min", 0.9), ("max", 1.2))
    }
    return Row(framework=framework, task="micro", device="cpu", device_name="cpu", hidden=n,
               channels=n, batch_size=16, time_steps=500, calls=10, peak_memory_bytes=n * 2**20,
               peak_memory_source="test source", **seconds, **fields)  # fmt: skip


def test_report_renders_micro_rows_beside_the_anchors(tmp_path):
    rows = [
        _micro_row("spyx_core", 512, 2.0, compile_s=0.5),
        _micro_row("snntorch", 512, 100.0),
        _micro_row("spyx_core", 4096, 20.0, compile_s=0.7),
        Row(
            framework="snntorch",
            task="micro",
            device="cpu",
            hidden=4096,
            channels=4096,
            batch_size=16,
            status="failed",
            reason="timed out after 600 s",
        ),
    ]
    write_results(tmp_path, rows, {})
    text = write_report(tmp_path).read_text()
    assert "## micro: Open Neuromorphic micro-benchmark, ms per call" in text
    line = next(row for row in text.splitlines() if row.replace(" ", "").startswith("|512|"))
    assert "0.8 [0.72-0.96]" in line and "2 [1.8-2.4]" in line  # spyx_core forward, fwd+bwd
    assert "100 [90-120]" in line and "50x" in line  # snntorch fwd+bwd and its factor
    assert "4.5" in line and "296" in line  # Spyx 0.1.20 and snnTorch 1.0.0 on the H100
    assert "Spyx 0.1.20 (NVIDIA H100 80GB HBM3) fwd+bwd ms" in text
    assert "failed: timed out after 600 s" in text
    assert "### micro: timed calls, compile and peak memory" in text
    assert "spyx_core peak MiB (test source)" in text and "snntorch peak MiB (test source)" in text
    assert (tmp_path / "micro.png").stat().st_size > 10_000
    assert (tmp_path / "micro-times.csv").exists() and (tmp_path / "micro-details.csv").exists()
