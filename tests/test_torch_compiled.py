"""Every torch adapter's ``@compile`` variant: the compiled network equals the eager one, and a row
says what torch.compile did (options, graphs, graph breaks, recompilations) or why it could not.

Tiny sizes (T=2, H=8): each compile of a forward+backward graph costs seconds on 2 CPU cores.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from drifted import with_lif

import frameworks
from frameworks.adapters.spyx_core_adapter import network, to_haiku
from frameworks.adapters.torch_plain_adapter import PlainLIF, TorchPlainAdapter
from frameworks.conformance.equivalence import compare, equivalence_batch
from frameworks.spec import init_weights, nmnist_spec, shd_spec
from frameworks.torch_base import COMPILE_VARIANTS, TorchAdapter
from harness.cell import Cell
from harness.results import Row
from harness.worker import run_cell, run_training

EAGER = ["snntorch", "norse", "torch_plain"]
SPEC = shd_spec(channels=12, hidden=8, time_steps=2)
GAINS = {"0.weight": 3.0, "2.weight": 3.0, "4.weight": 0.2}
TINY = dict(hidden=8, channels=12, time_steps=2, batch_size=8, n_samples=16, epochs=2, data="synthetic")
"""A SHD cell of 2 steps per epoch on the synthetic twin, at ``SPEC``'s sizes."""


def _weights() -> dict[str, np.ndarray]:
    weights = init_weights(SPEC, seed=0)
    return {k: (v * GAINS.get(k, 1.0)).astype(np.float32) for k, v in weights.items()}


@pytest.mark.parametrize("name", ["snntorch"])
def test_compiled_equals_eager(name):
    """Readout, loss and every gradient of ``name@compile`` equal ``name``'s. Norse's
    (``norse@compile``, ~10 s of compiling) is left to ``spikebench check-adapter norse@compile``:
    the suite's time budget; its graph is the stepwise CanonicalNet loop snnTorch's also runs.
    ``torch_plain@compile`` is compared in the conv net's test below (``torch_compile``)."""
    report = compare(frameworks.load(name), frameworks.load(f"{name}@compile"), SPEC, _weights(),
                     *equivalence_batch(SPEC, batch_size=8, seed=0, rate=0.3))  # fmt: skip
    assert report.ok, f"\n{report}"
    compared = {c.quantity for c in report.comparisons}
    assert {"readout", "loss", "grad 1.beta", "grad 0.weight"} <= compared


def test_a_compiled_row_counts_graphs_and_trains_as_the_eager_one():
    """``snntorch@compile``'s training row has the options, its graphs with no break (snnTorch's
    Leaky keeps its membrane in a buffer whose requires_grad flips after the first call: one
    recompile), and the eager row's losses and test accuracy."""
    cells = (Cell(framework=f, evaluate=True, **TINY) for f in ("snntorch", "snntorch@compile"))
    eager, compiled = (run_cell(cell) for cell in cells)
    assert compiled.status == "ok", compiled.reason
    assert compiled.compile_options == {"backend": "inductor", "mode": "default", "fullgraph": False,
                                        "dynamic": None}  # fmt: skip
    assert compiled.graph_breaks == 0 and compiled.graph_break_reasons == []
    assert (compiled.graphs, compiled.recompiles) == (2, 1)
    assert compiled.compile_s > 0 and "torch.compile(mode='default'" in compiled.compile_kind
    assert abs(compiled.loss_first_step - eager.loss_first_step) <= 1e-4 * abs(eager.loss_first_step)
    np.testing.assert_allclose(compiled.loss_per_epoch, eager.loss_per_epoch, rtol=1e-4)
    assert compiled.test_accuracy == pytest.approx(eager.test_accuracy, abs=1e-6)  # evaluates eagerly
    assert (eager.compile_options, eager.graphs, eager.compile_s) == ({}, None, None)


class BreakingLIF(PlainLIF):
    """The canonical LIF with a graph break in every step (as a ``.item()`` or a print would)."""

    def integrate(self, v, x, s, beta):
        torch._dynamo.graph_break()
        return super().integrate(v, x, s, beta)


def _breaking(variant: str) -> TorchAdapter:
    adapter_class = with_lif(TorchPlainAdapter, BreakingLIF, f"torch_plain-breaking@{variant}")
    return adapter_class(**COMPILE_VARIANTS[variant])


def _row(adapter: TorchAdapter) -> Row:
    cell = Cell(framework=adapter.name, **TINY)
    row = Row.for_cell(cell)
    try:
        run_training(adapter, cell, row)
    except frameworks.Unsupported as why:
        row.status, row.reason = "skipped", str(why)
    return row


@pytest.fixture
def traced_graphs_run_as_traced(monkeypatch):
    """Every graph dynamo captures runs as traced, without inductor's code generation (seconds per
    graph on 2 cores): the graph and break counts are dynamo's, whatever the backend does."""
    monkeypatch.setattr(
        torch._TorchCompileInductorWrapper, "__call__", lambda self, graph, inputs: graph.forward
    )


def test_a_graph_break_is_counted_in_the_row(traced_graphs_run_as_traced):
    row = _row(_breaking("compile"))
    assert row.status == "ok", row.reason
    assert row.graph_breaks >= 1 and row.graphs > 1
    assert any("graph_break()" in reason for reason in row.graph_break_reasons), row.graph_break_reasons


def test_a_graph_break_under_fullgraph_is_a_skip_with_dynamos_reason():
    row = _row(_breaking("compile-fullgraph"))
    assert row.status == "skipped"
    options = "mode='default', fullgraph=True, dynamic=None"
    assert row.reason.startswith(f"torch.compile({options}) fails here")
    assert "graph_break()" in row.reason


class EagerOnlyAdapter(TorchPlainAdapter):
    """Its whole network hidden from dynamo: a compile of it would silently run eager."""

    name = "torch_plain-hidden"

    def build(self, spec, spike_fn):
        module = super().build(spec, spike_fn)
        module.forward = torch._dynamo.disable(module.forward)
        return module


def test_a_compile_that_runs_no_graph_is_a_skip_not_an_eager_run():
    row = _row(EagerOnlyAdapter(**COMPILE_VARIANTS["compile"]))
    assert row.status == "skipped"
    assert "ran no compiled graph (eager fallback)" in row.reason


def test_cuda_graphs_off_cuda_are_a_skip_naming_the_mode():
    row = run_cell(Cell(framework="torch_plain@compile-cudagraphs", **TINY))
    assert row.status == "skipped"
    assert "mode='reduce-overhead' captures CUDA graphs, which need a CUDA device (not cpu)" in (
        row.reason
    )


@pytest.mark.parametrize("name", [*EAGER, "spikingjelly"])
def test_every_torch_adapter_offers_the_compiled_variants(name):
    try:
        factory = type(frameworks.load(name))
    except frameworks.FrameworkUnavailable:
        pytest.skip(f"{name} is not installed here")
    assert set(factory.VARIANTS) >= set(COMPILE_VARIANTS)
    adapter = frameworks.load(f"{name}@compile-max-autotune")
    assert adapter.compiler.options.as_dict()["mode"] == "max-autotune-no-cudagraphs"
    assert frameworks.load(name).compiler.readout_with_grad is False  # eager stays eager


def test_torch_compile_is_torch_plain_at_compile():
    adapter = frameworks.load("torch_compile")
    assert isinstance(adapter, TorchPlainAdapter) and adapter.name == "torch_compile"
    assert adapter.compiler.options == frameworks.load("torch_plain@compile").compiler.options
    assert frameworks.ALIASES["torch_compile"] == "torch_plain@compile"


def test_an_unknown_compile_option_is_unsupported():
    with pytest.raises(frameworks.Unsupported, match=r"unknown torch\.compile mode 'fastest'"):
        TorchPlainAdapter(compile={"mode": "fastest"})
    with pytest.raises(frameworks.Unsupported, match=r"unknown torch\.compile option"):
        TorchPlainAdapter(compile={"backend": "eager"})


def test_the_compiled_conv_net_equals_the_eager_one():
    """The N-MNIST conv net (Conv2d, MaxPool2d, Flatten) compiled: ``torch_compile``, i.e.
    ``torch_plain@compile``, agrees with spyx_core at a tiny input and T=2."""
    spec = nmnist_spec(width=1, time_steps=2, input_shape=(2, 16, 16))
    weights = {
        k: v * (2.0 if k in ("0.weight", "3.weight") else 1.0)
        for k, v in init_weights(spec, seed=0).items()
    }
    rng = np.random.default_rng(0)
    spikes = rng.poisson(0.3, (4, spec.time_steps, *spec.input_shape)).astype(np.float32)
    labels = rng.integers(0, spec.n_classes, 4)
    apply = network(spec, weights, impl="layerwise", unroll=1, return_counts=True).apply
    readout, counts = apply(to_haiku(spec, weights), jnp.asarray(np.moveaxis(spikes, 1, 0)))
    rates = [float(c.mean()) / spec.time_steps for c in counts[:2]]
    assert all(0.05 < rate < 0.6 for rate in rates), rates  # both conv layers fire: not vacuous
    assert float(jnp.abs(readout).max()) > 0.1
    report = compare(
        frameworks.load("spyx_core"), frameworks.load("torch_compile"), spec, weights, spikes, labels
    )
    assert report.ok, f"\n{report}"
    assert {"grad 0.weight", "grad 3.weight", "grad 7.weight"} <= {
        c.quantity for c in report.comparisons
    }
