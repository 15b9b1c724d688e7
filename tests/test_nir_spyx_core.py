"""spyx_core.nir: the parameter mapping, exact round trips, the canonical graph, bad graphs.

spyx_core -> NIR -> spyx_core is exact (bit for bit), the N-MNIST conv net (``nmnist_spec`` at a
(2, 16, 16) input, the smallest that two valid 5x5 convolutions and two 2x2 pools take) included.
NIR has no max-pool: it is written as a SumPool2d + Threshold(0.5) pair, the max of binary spikes
exactly, each node marked; a malformed graph raises ``NIRGraphError`` naming the node.
"""

from __future__ import annotations

import nir
import numpy as np
import pytest

from frameworks.adapters.spyx_core_adapter import SpyxCoreAdapter
from frameworks.nir.bridge import graph_from_spec, spec_from_graph
from frameworks.nir.spyx_core_nir import SpyxCoreNIR
from frameworks.spec import init_weights, shd_spec
from spyx_core import nir as snir

pytest_plugins = ["nir_fixtures"]

nir_spyx_core = SpyxCoreNIR()


# --- the parameter mapping ------------------------------------------------------------------------


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
def test_spyx_core_round_trip_is_exact(through_file, neuron, spikes):
    spec = shd_spec(channels=16, hidden=32, time_steps=40, neuron=neuron)
    weights = init_weights(spec, seed=0)
    if neuron == "LIF":  # the extremes of beta: 0, 1, clipped, tiny
        weights["1.beta"][:4] = [0.0, 1.0, 1.3, 1e-9]
    back_spec, back = spec_from_graph(through_file(nir_spyx_core.export(spec, weights)))
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


def test_reset_semantics_are_required(spec, weights):
    graph = graph_from_spec(spec, weights)
    graph.nodes["1"].metadata = {}
    with pytest.raises(snir.NIRGraphError, match="node '1': reset metadata"):
        snir.from_nir(graph)


# --- the N-MNIST conv net -------------------------------------------------------------------------


def test_conv_graph_is_canonical_nir(conv_spec, conv_weights):
    graph = graph_from_spec(conv_spec, conv_weights)
    kinds = {name: type(node).__name__ for name, node in graph.nodes.items()}
    assert kinds == {
        "input": "Input", "0": "Conv2d", "1": "LIF", "2": "SumPool2d", "2.threshold": "Threshold",
        "3": "Conv2d", "4": "LIF", "5": "SumPool2d", "5.threshold": "Threshold", "6": "Flatten",
        "7": "Linear", "8": "LI", "output": "Output",
    }  # fmt: skip
    conv = graph.nodes["0"]
    np.testing.assert_array_equal(conv.weight, conv_weights["0.weight"])  # OIHW, as the spec
    assert conv.input_type["input"].tolist() == [2, 16, 16] and not np.any(conv.bias)
    assert graph.nodes["1"].tau.shape == (12, 12, 12)  # per neuron on the feature map
    pool, threshold = graph.nodes["5"], graph.nodes["5.threshold"]
    assert pool.kernel_size.tolist() == pool.stride.tolist() == [2, 2]
    assert pool.metadata == {snir.MAXPOOL_KEY: "sum"}
    assert threshold.metadata == {snir.MAXPOOL_KEY: "threshold"}
    assert threshold.threshold.shape == (32, 1, 1) and np.all(threshold.threshold == 0.5)
    assert graph.nodes["6"].start_dim == 0 and graph.nodes["6"].output_type["output"].tolist() == [32]
    np.testing.assert_array_equal(graph.nodes["7"].weight, conv_weights["7.weight"].T)


def test_conv_graph_file_round_trip(tmp_path, conv_spec, conv_weights):
    """NIR's own writer and (type-checked) reader keep the conv graph, max-pool metadata included."""
    nir.write(tmp_path / "conv.nir", graph_from_spec(conv_spec, conv_weights))
    back_spec, back = spec_from_graph(nir.read(tmp_path / "conv.nir"))
    assert back_spec == conv_spec
    assert back.keys() == conv_weights.keys()
    for name, value in conv_weights.items():
        np.testing.assert_array_equal(back[name], value, err_msg=name)


def test_conv_round_trip_is_exact(through_file, conv_spec, conv_weights, conv_spikes):
    conv_weights["1.beta"].flat[:4] = [0.0, 1.0, 1.3, 1e-9]  # the extremes of beta
    graph = through_file(nir_spyx_core.export(conv_spec, conv_weights))
    back_spec, back = spec_from_graph(graph)
    assert back_spec == conv_spec
    for name, value in conv_weights.items():
        expected = np.clip(value, 0, 1) if name.endswith(".beta") else value  # the effective beta
        np.testing.assert_array_equal(back[name], expected, err_msg=name)
    reference = nir_spyx_core.native(conv_spec, conv_weights, conv_spikes)
    assert all(s.sum() > 20 for s in reference.spikes.values())
    (imported,) = nir_spyx_core.imports(graph, conv_spikes)
    np.testing.assert_array_equal(imported.trace.readout, reference.readout)
    for layer, spikes_ref in reference.spikes.items():
        assert spikes_ref.shape[2:] == conv_spec.shapes[layer]  # (C, H, W) spikes
        np.testing.assert_array_equal(imported.trace.spikes[layer], spikes_ref)
    adapter = SpyxCoreAdapter()  # the adapter's own net, on the weights read back
    np.testing.assert_array_equal(
        adapter.readout(back_spec, back, conv_spikes),
        adapter.readout(conv_spec, conv_weights, conv_spikes),
    )


def _broken_conv(graph: nir.NIRGraph, fault: str) -> tuple[nir.NIRGraph, str]:
    """A copy of the conv graph with one fault, and the node the error must name."""
    nodes, edges = dict(graph.nodes), list(graph.edges)
    conv = graph.nodes["3"]
    fields = {f: getattr(conv, f) for f in ("input_shape", "stride", "padding", "dilation", "groups")}
    if fault == "conv weight of wrong rank":
        nodes["3"] = nir.Conv2d(**fields, weight=conv.weight[0], bias=conv.bias)
        node = "3"
    elif fault == "NaN in conv weight":
        weight = conv.weight.copy()
        weight[1, 2, 3, 4] = np.nan
        nodes["3"] = nir.Conv2d(**fields | {"weight": weight, "bias": conv.bias})
        node = "3"
    elif fault == "strided conv":
        nodes["3"] = nir.Conv2d(**fields | {"stride": 2, "weight": conv.weight, "bias": conv.bias})
        node = "3"
    elif fault == "nonzero conv bias":
        nodes["3"] = nir.Conv2d(**fields, weight=conv.weight, bias=np.ones(32, np.float32))
        node = "3"
    elif fault == "missing edge in the max-pool pair":
        edges.remove(("2", "2.threshold"))
        node = "2"
    elif fault in ("unmarked max-pool pair", "marked Threshold alone"):
        pool = graph.nodes["2"]
        nodes["2"] = nir.SumPool2d(
            kernel_size=pool.kernel_size, stride=pool.stride, padding=pool.padding
        )
        node = "2.threshold"
        if fault == "unmarked max-pool pair":  # a SumPool2d + Threshold spyx_core does not run alone
            nodes[node] = nir.Threshold(graph.nodes[node].threshold)
            node = "2"
    elif fault == "non-binary max-pool threshold":
        level = graph.nodes["5.threshold"]
        nodes["5.threshold"] = nir.Threshold(level.threshold + 1, metadata=level.metadata)
        node = "5.threshold"
    elif fault == "Flatten keeping the channels":
        nodes["6"] = nir.Flatten(input_type=graph.nodes["6"].input_type, start_dim=1)
        node = "6"
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=graph.metadata, type_check=False), node


CONV_FAULTS = [
    "conv weight of wrong rank",
    "NaN in conv weight",
    "strided conv",
    "nonzero conv bias",
    "missing edge in the max-pool pair",
    "unmarked max-pool pair",
    "marked Threshold alone",
    "non-binary max-pool threshold",
    "Flatten keeping the channels",
]


@pytest.mark.parametrize("fault", CONV_FAULTS)
def test_malformed_conv_graph_names_the_node(conv_spec, conv_weights, fault):
    graph, node = _broken_conv(graph_from_spec(conv_spec, conv_weights), fault)
    with pytest.raises(snir.NIRGraphError, match=f"node '{node}'") as caught:
        snir.from_nir(graph)
    assert caught.value.node == node
