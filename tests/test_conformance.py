"""The conformance suite: every registered adapter passes it, and deliberately wrong adapters fail it.

Also: the inexact adapters' deviations are exactly what they declare (Spyx 0.1.x: spikes one step
late per layer; SpikingJelly: reset by beta*theta), an adapter from a separate package (the one in
docs/adding-a-framework.md, built in a temporary folder) is discovered and conforms, and the
``check-adapter``/``frameworks`` commands report it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from drifted import with_lif

import frameworks
from frameworks import conformance
from frameworks.adapter import Unsupported
from frameworks.adapters.torch_plain_adapter import PlainLIF, TorchPlainAdapter
from frameworks.conformance.equivalence import compare, relative_error
from harness.cell import Cell
from harness.cli import main as cli
from harness.worker import run_cell

TASK = conformance.TASKS["shd"]
EXACT_TOLERANCE = 1e-3
"""The largest relative error an exact adapter shows (``compare``'s gradient tolerance)."""


def _load(name: str):
    try:
        return frameworks.load(name)
    except frameworks.FrameworkUnavailable as error:
        pytest.skip(f"{name} is not installed here: {error}")


# --- every registered adapter -------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in frameworks.names() if n not in frameworks.SLOW_TO_COMPILE])
def test_registered_adapter_conforms(name):
    """Every registered adapter but the compiled ``torch_compile`` (``torch_plain@compile``), whose
    compiles take seconds each: tests/test_torch_compiled.py checks every compiled variant against
    its eager adapter at a smaller size."""
    report = conformance.run(_load(name))
    assert report.ok, f"\n{report}"
    names = {c.name for c in report.checks}
    assert names >= {"declaration", "versions", "devices", "failure reporting", "session shd"}
    if report.exact:
        assert report.deviation <= EXACT_TOLERANCE, f"\n{report}"
    else:
        assert report.semantics
        # An inexact adapter's comparisons are measured, not judged: the seeded ones, and the same
        # comparisons at boundary decays and at trained weights.
        measured = {c.name for c in report.checks if c.status == "measured"}
        assert {"forward+gradients shd", "first-step loss shd"} <= measured
        comparisons = ("forward+gradients shd", "first-step loss shd")
        assert all(n.startswith(comparisons) for n in measured), measured


# --- deliberately wrong adapters fail -----------------------------------------------------------


class AttachedResetLIF(PlainLIF):
    """Claims the canonical model, but its reset term carries gradient: the same forward pass,
    other gradients."""

    def integrate(self, v, x, s, beta):
        return beta * v + x - self.theta * s


class NoResetLIF(PlainLIF):
    """Claims the canonical model, but its neurons never reset."""

    def integrate(self, v, x, s, beta):
        return beta * v + x


AttachedResetAdapter = with_lif(TorchPlainAdapter, AttachedResetLIF, "wrong-attached-reset")
NoResetAdapter = with_lif(TorchPlainAdapter, NoResetLIF, "wrong-no-reset")


class CrashingAdapter(TorchPlainAdapter):
    """Raises ValueError, not Unsupported, for a neuron it lacks; its version is unknown."""

    name = "wrong-errors"

    def versions(self):
        return {"wrongfw": "missing", "torch": torch.__version__}

    def build(self, spec, spike_fn):
        if any(type(layer).__name__ == "ALIF" for layer in spec.layers):
            raise ValueError("ALIF?")
        return super().build(spec, spike_fn)


class UndeclaredAdapter(TorchPlainAdapter):
    """Says it is inexact without saying how."""

    name = "wrong-undeclared"
    exact = False


EVERY_EQUIVALENCE = {
    "forward+gradients shd",
    "forward+gradients shd at boundary decays",
    "forward+gradients shd at trained weights",
}


@pytest.mark.parametrize(
    ("adapter", "failing"),
    [
        (AttachedResetAdapter, EVERY_EQUIVALENCE),
        (NoResetAdapter, {*EVERY_EQUIVALENCE, "first-step loss shd"}),
        (CrashingAdapter, {"versions", "failure reporting"}),
        (UndeclaredAdapter, {"declaration"}),
    ],
    ids=["attached-reset", "no-reset", "wrong-errors", "undeclared"],
)
def test_wrong_adapter_fails(adapter, failing):
    report = conformance.run(adapter())
    assert not report.ok
    assert {c.name for c in report.checks if not c.ok} == failing, f"\n{report}"
    assert "FAIL" in str(report)


def test_a_crash_in_a_check_is_reported_not_raised():
    class Broken(TorchPlainAdapter):
        name = "broken"

        def session(self, *args, **kwargs):
            raise RuntimeError("staging failed")

    report = conformance.run(Broken())
    failed = {c.name: c.detail for c in report.checks if not c.ok}
    assert set(failed) == {"failure reporting", "first-step loss shd", "session shd"}
    assert all("RuntimeError: staging failed" in d for d in failed.values())


def test_a_task_the_adapter_cannot_express_is_unsupported_not_failed(monkeypatch):
    alif = conformance.Task("alif", conformance.with_neuron(TASK.spec, "ALIF"), TASK.gains)
    monkeypatch.setitem(conformance.TASKS, "alif", alif)
    both = conformance.run(TorchPlainAdapter(), tasks=("shd", "alif"))
    assert both.ok, f"\n{both}"
    unsupported = {c.name for c in both.checks if c.status == "unsupported"}
    assert unsupported == {
        "forward+gradients alif",
        "forward+gradients alif at boundary decays",
        "first-step loss alif",
        "session alif",
    }
    assert "not ALIF" in both.checks[-1].detail
    only = conformance.run(TorchPlainAdapter(), tasks=("alif",))
    assert not only.ok and only.checks[-1].name == "tasks"


# --- declared deviations are exactly what they say ----------------------------------------------


def test_spyx_spikes_one_step_late_per_layer():
    spyx, spikes = _load("spyx"), TASK.batch(TASK.batch_size)[0]
    late = spyx.readout(TASK.spec, TASK.weights(), spikes)
    canonical = conformance.reference_adapter().readout(TASK.spec, TASK.weights(), spikes)
    np.testing.assert_array_equal(late[:2], 0.0)  # two LIF layers: the readout starts 2 steps late
    assert relative_error(late[2:], canonical[:-2]) < 1e-5


class BetaThetaResetLIF(PlainLIF):
    """The canonical LIF with the reset SpikingJelly applies: ``beta * theta`` by the next step."""

    def integrate(self, v, x, s, beta):
        return beta * (v - self.theta * s.detach()) + x


BetaThetaAdapter = with_lif(TorchPlainAdapter, BetaThetaResetLIF, "beta-theta-reset")


def test_spikingjelly_deviation_is_its_immediate_reset():
    jelly = _load("spikingjelly")
    report = compare(BetaThetaAdapter(), jelly, TASK.spec, TASK.weights(), *TASK.batch(8))
    assert report.ok, f"\n{report}"


# --- an adapter from a separate package ---------------------------------------------------------

DOCS = Path(__file__).resolve().parents[1] / "docs" / "adding-a-framework.md"


def _example_module() -> str:
    """The example adapter of docs/adding-a-framework.md, verbatim."""
    text = DOCS.read_text()
    found = re.search(r"<!-- example: my_snn_adapter.py -->\n```python\n(.*?)```", text, re.S)
    assert found, "docs/adding-a-framework.md lost its example adapter"
    return found.group(1)


WRONG_MODULE = """
from my_snn_adapter import MyAdapter


class WrongAdapter(MyAdapter):
    name = "my_snn_wrong"
    exact = False
    semantics = "the readout is doubled"

    def readout(self, spec, weights, spikes):
        return 2 * super().readout(spec, weights, spikes)

    def device_name(self, device):
        raise KeyError(device)
"""


@pytest.fixture
def separate_package(tmp_path, monkeypatch) -> Path:
    """A distribution ``my-snn`` with two adapters, on ``sys.path`` as if pip-installed."""
    (tmp_path / "my_snn_adapter.py").write_text(_example_module())
    (tmp_path / "my_snn_wrong.py").write_text(WRONG_MODULE)
    info = tmp_path / "my_snn-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-snn\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[spikebench.frameworks]\n"
        "my_snn = my_snn_adapter:MyAdapter\n"
        "my_snn_wrong = my_snn_wrong:WrongAdapter\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_adapter_from_a_separate_package_is_discovered_and_conforms(separate_package, capsys):
    assert {"my_snn", "my_snn_wrong"} <= set(frameworks.names())
    assert cli(["check-adapter", "my_snn"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("my_snn on cpu: pass: exact")
    assert "first-step loss shd" in out


def test_check_adapter_fails_a_wrong_adapter(separate_package, capsys):
    assert cli(["check-adapter", "my_snn_wrong"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out.splitlines()[0]
    assert re.search(r"devices\s+FAIL\s+KeyError", out)


def test_check_adapter_unknown_name_is_a_usage_error(capsys):
    assert cli(["check-adapter", "no_such_framework"]) == 2
    assert "unknown framework 'no_such_framework'" in capsys.readouterr().err


def test_frameworks_lists_versions_devices_and_exactness(separate_package, capsys):
    assert cli(["frameworks"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "torch " in lines["my_snn"] and "devices: cpu" in lines["my_snn"]
    assert "| exact |" in lines["my_snn"]
    assert "inexact: the readout is doubled" in lines["my_snn_wrong"]
    assert "devices: error (KeyError" in lines["my_snn_wrong"]
    assert all("conformance: not run" in line for line in lines.values() if "unavailable" not in line)


def test_frameworks_check_runs_the_suite(separate_package, monkeypatch, capsys):
    monkeypatch.setattr(frameworks, "names", lambda: ["my_snn"])
    assert cli(["frameworks", "--check"]) == 0
    assert "conformance: pass, max deviation from spyx_core" in capsys.readouterr().out


def test_worker_rows_carry_the_declared_semantics(separate_package):
    jelly = _load("spikingjelly")
    small = {"hidden": 8, "channels": 8, "time_steps": 8, "batch_size": 4, "n_samples": 8}
    row = run_cell(Cell(framework="spikingjelly", epochs=1, data="synthetic", **small))
    assert row.status == "ok", row.reason
    assert row.semantics == jelly.semantics
    assert run_cell(Cell(framework="my_snn", epochs=1, data="synthetic", **small)).semantics == ""


def test_unsupported_layers_name_themselves():
    spec = conformance.with_neuron(TASK.spec, "ALIF")
    with pytest.raises(Unsupported, match="not ALIF"):
        TorchPlainAdapter().readout(spec, frameworks.init_weights(spec, seed=0), TASK.batch(2)[0])
