"""NIR export and import: the parameter mapping, round trips, cross-framework loads, bad graphs, CLI.

Tolerances: spyx_core -> NIR -> spyx_core is exact (bit for bit). Through snnTorch's and Norse's
importers the readout agrees to ``READOUT_TOLERANCE`` (1e-5 relative; float32 rounding of ``tau``
and Norse's ``v + dt/tau * (x - v)`` integration) and every spike agrees, once the graph's
subtractive delayed reset is honoured; as their importers build them (reset to zero at once) they
differ, which is the documented semantic difference. Third-party exports carry ``beta`` through
float32 ``tau`` and Norse's exports also scale the weights by ``1 / (1 - beta)`` and back, so they
come back to within a few float32 ulps.
"""

from __future__ import annotations

import h5py
import nir
import numpy as np
import pytest

from frameworks import nir_norse, nir_snntorch, nir_spyx_core
from frameworks.checkpoint import save_weights
from frameworks.equivalence import relative_error
from frameworks.nir_bridge import graph_from_spec, spec_from_graph
from frameworks.nir_io import read_graph, write_graph
from frameworks.spec import ModelSpec, init_weights, shd_spec
from frameworks.spyx_core_adapter import SpyxCoreAdapter
from harness import cli
from harness.nir_check import READOUT_TOLERANCE
from spyx_core import nir as snir

GAINS = {"0.weight": 3.0, "2.weight": 3.0, "4.weight": 0.2}
"""At Haiku's initial weight scale the second LIF layer barely fires; these make both fire."""


@pytest.fixture
def active(spec: ModelSpec) -> dict[str, np.ndarray]:
    weights = init_weights(spec, seed=0)
    return {k: (v * GAINS.get(k, 1.0)).astype(np.float32) for k, v in weights.items()}


@pytest.fixture
def spikes(spec: ModelSpec) -> np.ndarray:
    """Random input spikes ``[B, T, C]``."""
    rng = np.random.default_rng(1)
    return (rng.random((4, spec.time_steps, *spec.input_shape)) < 0.3).astype(np.float32)


def _through_file(graph: nir.NIRGraph, tmp_path) -> nir.NIRGraph:
    write_graph(tmp_path / "g.nir", graph)
    return read_graph(tmp_path / "g.nir")


# --- the parameter mapping ----------------------------------------------------------------------


def test_nir_euler_step_is_the_canonical_update():
    beta, dt = np.array([0.0, 0.3, 0.95], np.float32), 1e-4
    p = snir.lif_to_nir(beta, 0.7, dt)
    v, x = np.array([0.2, -0.4, 0.9]), np.array([0.5, 1.0, -0.3])
    euler = v + dt / p["tau"] * (p["v_leak"] - v + p["r"] * x)  # tau dv/dt = v_leak - v + r I
    np.testing.assert_allclose(euler, beta * v + x, rtol=1e-6)
    assert p["tau"].dtype == np.float32 and p["v_threshold"].tolist() == [np.float32(0.7)] * 3
    np.testing.assert_allclose(snir.beta_from_tau(p["tau"], dt), beta, atol=1e-7)


def test_beta_one_stays_finite():
    p = snir.lif_to_nir(np.array([1.0, 1.5], np.float32), 1.0, 1e-4)
    assert np.all(np.isfinite(p["tau"])) and np.all(np.isfinite(p["r"]))


# --- spyx_core -> NIR -> spyx_core ----------------------------------------------------------------


@pytest.mark.parametrize("neuron", ["LIF", "IF"])
def test_spyx_core_round_trip_is_exact(tmp_path, neuron, spikes):
    spec = shd_spec(channels=16, hidden=32, time_steps=40, neuron=neuron)
    weights = init_weights(spec, seed=0)
    if neuron == "LIF":  # the extremes of beta: 0, 1, clipped, tiny
        weights["1.beta"][:4] = [0.0, 1.0, 1.3, 1e-9]
    back_spec, back = spec_from_graph(_through_file(nir_spyx_core.export(spec, weights), tmp_path))
    assert back_spec == spec
    for name, value in weights.items():
        expected = np.clip(value, 0, 1) if name.endswith(".beta") else value  # the effective beta
        np.testing.assert_array_equal(back[name], expected, err_msg=name)
    adapter = SpyxCoreAdapter()
    np.testing.assert_array_equal(
        adapter.readout(back_spec, back, spikes), adapter.readout(spec, weights, spikes)
    )


def test_graph_is_canonical_nir(spec, weights):
    graph = graph_from_spec(spec, weights)
    assert graph.metadata["dt"] == snir.DT and graph.nodes["input"].input_type["input"].tolist() == [16]
    np.testing.assert_array_equal(graph.nodes["0"].weight, weights["0.weight"].T)  # [out, in]
    lif = graph.nodes["1"]
    assert isinstance(lif, nir.LIF) and isinstance(graph.nodes["5"], nir.LI)
    for field in ("tau", "r", "v_leak", "v_threshold", "v_reset"):
        value = getattr(lif, field)
        assert value.shape == (32,) and value.dtype == np.float32, field
    assert lif.metadata["reset"] == "subtract" and lif.metadata["reset_delay"] == 1


# --- spyx_core -> NIR -> snnTorch, Norse --------------------------------------------------------


@pytest.mark.parametrize("target", [nir_snntorch, nir_norse], ids=["snntorch", "norse"])
def test_spyx_core_graph_runs_in_other_frameworks(tmp_path, spec, active, spikes, target):
    graph = _through_file(nir_spyx_core.export(spec, active), tmp_path)
    reference = nir_spyx_core.native(spec, active, spikes)
    assert all(s.sum() > 20 for s in reference.spikes.values())  # both layers spike and reset
    exact, stock = target.imports(graph, spikes)
    assert exact.exact and exact.trace is not None, exact.error
    assert relative_error(exact.trace.readout, reference.readout) <= READOUT_TOLERANCE
    for layer, spikes_ref in reference.spikes.items():
        np.testing.assert_array_equal(exact.trace.spikes[layer], spikes_ref)
    # As the importer builds it, the reset is to zero at once: the documented semantic difference.
    assert not stock.exact and "semantic difference" in stock.note
    assert relative_error(stock.trace.readout, reference.readout) > 1e-2


def test_if_graph_in_other_frameworks(spikes):
    spec = shd_spec(channels=16, hidden=32, time_steps=40, neuron="IF")
    weights = init_weights(spec, seed=0)
    graph = nir_spyx_core.export(spec, weights)
    reference = nir_spyx_core.native(spec, weights, spikes)
    exact, stock = nir_snntorch.imports(graph, spikes)
    assert relative_error(exact.trace.readout, reference.readout) <= READOUT_TOLERANCE
    # snnTorch's importer builds IF as Leaky(beta=0.9, init_hidden=False), whose tuple output
    # breaks the graph it sits in: a documented failure, reported rather than raised.
    assert stock.trace is None and "tuple" in stock.error
    # Norse's IAFCell resets to v_reset and takes no reset method: never labelled exact.
    assert not any(way.exact for way in nir_norse.imports(graph, spikes))


# --- snnTorch, Norse -> NIR -> spyx_core --------------------------------------------------------


@pytest.mark.parametrize("source", [nir_snntorch, nir_norse], ids=["snntorch", "norse"])
def test_other_exports_load_in_spyx_core(tmp_path, spec, active, spikes, source):
    graph = _through_file(source.export(spec, active), tmp_path)
    back_spec, back = spec_from_graph(graph)
    assert back_spec == spec
    for name, value in active.items():
        np.testing.assert_allclose(back[name], value, rtol=1e-6, atol=1e-6, err_msg=name)
    (imported,) = nir_spyx_core.imports(graph, spikes)
    reference = source.native(spec, active, spikes)
    assert relative_error(imported.trace.readout, reference.readout) <= READOUT_TOLERANCE
    for layer, spikes_ref in reference.spikes.items():
        np.testing.assert_array_equal(imported.trace.spikes[layer], spikes_ref)


# --- malformed graphs -----------------------------------------------------------------------------


def _broken(graph: nir.NIRGraph, fault: str) -> tuple[nir.NIRGraph, str]:
    """A copy of ``graph`` with one fault, and the node the error must name."""
    nodes, edges = dict(graph.nodes), list(graph.edges)
    if fault == "unknown node type":
        nodes["3"] = nir.Threshold(threshold=np.ones(32, np.float32))
    elif fault == "mismatched shapes":
        nodes["2"] = nir.Linear(weight=np.ones((32, 31), np.float32))
    elif fault == "NaN parameter":
        lif = graph.nodes["3"]
        tau = lif.tau.copy()
        tau[5] = np.nan
        fields = {f: getattr(lif, f) for f in ("r", "v_leak", "v_threshold", "v_reset")}
        nodes["3"] = nir.LIF(tau=tau, **fields, metadata=lif.metadata)
    elif fault == "missing edge":
        edges.remove(("3", "4"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=graph.metadata, type_check=False), "3"


FAULTS = ["unknown node type", "mismatched shapes", "NaN parameter", "missing edge"]


@pytest.mark.parametrize("fault", FAULTS)
def test_malformed_graph_names_the_node(spec, weights, fault):
    graph, node = _broken(graph_from_spec(spec, weights), fault)
    node = "2" if fault == "mismatched shapes" else node
    with pytest.raises(snir.NIRGraphError, match=f"node '{node}'") as caught:
        snir.from_nir(graph)
    assert isinstance(caught.value, ValueError) and caught.value.node == node


def test_unknown_node_type_in_a_file_names_the_node(tmp_path, spec, weights, capsys):
    path = tmp_path / "bad.nir"
    write_graph(path, graph_from_spec(spec, weights))
    with h5py.File(path, "r+") as handle:
        del handle["node/nodes/3/type"]
        handle["node/nodes/3/type"] = "Spiky"
    with pytest.raises(snir.NIRGraphError, match="node '3': unknown node type 'Spiky'"):
        read_graph(path)
    assert cli.main(["nir", "check", str(path)]) == 2
    assert "node '3'" in capsys.readouterr().err


def test_reset_semantics_are_required(spec, weights):
    graph = graph_from_spec(spec, weights)
    graph.nodes["1"].metadata = {}
    with pytest.raises(snir.NIRGraphError, match="node '1': reset metadata"):
        snir.from_nir(graph)


# --- the command line ---------------------------------------------------------------------------


def test_cli_export_and_check(tmp_path, capsys):
    out = tmp_path / "m.nir"
    assert (
        cli.main(
            [
                "nir",
                "export",
                "--framework",
                "snntorch",
                "--channels",
                "16",
                "--hidden",
                "32",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert cli.main(["nir", "check", str(out), "--batch", "2", "--time-steps", "20"]) == 0
    table = capsys.readouterr().out
    assert "reference snntorch" in table and "all frameworks within tolerance" in table
    for name in ("spyx_core", "snntorch", "norse"):
        assert any(line.startswith(f"{name} ") and " yes " in line for line in table.splitlines())


def test_cli_export_takes_a_weights_file(tmp_path, spec, active):
    save_weights(tmp_path / "w.npz", spec, active)
    out = tmp_path / "m.nir"
    argv = ["nir", "export", "--framework", "spyx_core", "--weights", str(tmp_path / "w.npz")]
    assert cli.main([*argv, "--out", str(out)]) == 0
    back_spec, back = spec_from_graph(read_graph(out))
    assert back_spec == spec and all(np.array_equal(back[k], v) for k, v in active.items())


def test_cli_export_refuses_what_it_cannot_do(tmp_path, capsys):
    assert cli.main(["nir", "export", "--framework", "lava", "--out", str(tmp_path / "m.nir")]) == 2
    assert (
        cli.main(
            [
                "nir",
                "export",
                "--framework",
                "spyx_core",
                "--task",
                "nmnist",
                "--out",
                str(tmp_path / "m.nir"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "unknown framework 'lava'" in err and "N-MNIST" in err
