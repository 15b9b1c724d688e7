"""``nir check``: load one NIR graph into every framework that can, run the same input, compare.

The reference is the framework that exported the graph (metadata ``"source"``; spyx_core when
unstated) running its *own* model of the network (``native``: the adapter's module, parameters
never through NIR). Every framework's NIR import runs the same random spike input; each row gives
the spikes of every spiking layer that differ from the reference's, and the readout's relative
deviation ``max|u - u_ref| / max|u_ref|`` (``frameworks.conformance.equivalence.relative_error``).
"""

from __future__ import annotations

from dataclasses import dataclass

import nir
import numpy as np

import frameworks
from frameworks.adapter import Unsupported
from frameworks.conformance.equivalence import relative_error
from frameworks.nir import Imported, Trace, support, supported
from frameworks.nir.bridge import source_of, spec_from_graph

READOUT_TOLERANCE = 1e-5
"""Largest relative readout deviation of an exact import. Float32 rounding alone separates them:
snnTorch and Norse recompute ``beta`` from the float32 ``tau`` (about one ulp off) and Norse
integrates ``v + dt/tau * (x - v)`` rather than ``beta * v + x``; on the SHD and N-MNIST networks
this gives about 1e-7 and 3e-7, and 1e-5 leaves room for the order of summation on other machines."""

SPIKE_TOLERANCE = 1e-3
"""Largest fraction of the reference's spikes that may differ in an exact import: a spike whose
membrane lies within rounding of the threshold may flip (none did on the SHD network)."""

DEFAULT_RATE = 0.5
"""Input spike probability per channel and step: at the seeded initial weights it makes both
hidden SHD layers fire (about 9% and 1% of the time), and both N-MNIST conv layers, so the
comparison has spikes to compare."""


@dataclass(frozen=True)
class CheckRow:
    """One way of loading the graph into one framework, compared with the reference.

    Attributes:
        framework: e.g. ``"norse"`` or ``"norse, importer reset"``.
        loaded: whether the graph loaded and ran.
        reason: why not (empty when it did).
        spike_mismatch: spiking-layer index -> how many spike entries differ from the reference.
        readout_error: relative readout deviation (None when not loaded).
        exact: whether this way is meant to match the canonical model (False: a labelled
            semantic difference, reported but not held to the tolerance).
        note: what was done outside the importer, or the semantic difference.
    """

    framework: str
    loaded: bool
    reason: str = ""
    spike_mismatch: dict[int, int] | None = None
    readout_error: float | None = None
    exact: bool = True
    note: str = ""

    def within(self, reference_spikes: dict[int, int]) -> bool:
        """Whether the readout and every layer's spikes are within tolerance."""
        if not self.loaded or self.readout_error is None or self.spike_mismatch is None:
            return False
        spikes_ok = all(
            self.spike_mismatch[i] <= SPIKE_TOLERANCE * max(count, 1)
            for i, count in reference_spikes.items()
        )
        return spikes_ok and self.readout_error <= READOUT_TOLERANCE


@dataclass(frozen=True)
class CheckReport:
    """Everything ``nir check`` prints: the setup, the reference's activity and one row per way.

    ``without_nir`` lists the registered frameworks with no NIR support here (none, or it does not
    import), ``frameworks.nir.supported``.
    """

    source: str
    batch: int
    time_steps: int
    rate: float
    seed: int
    reference_spikes: dict[int, int]
    rows: tuple[CheckRow, ...]
    without_nir: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Every exact row loaded and lies within tolerance."""
        return all(row.within(self.reference_spikes) for row in self.rows if row.exact)


def _row(imported: Imported, reference: Trace) -> CheckRow:
    if imported.trace is None:
        return CheckRow(
            imported.label, False, imported.error or "", exact=imported.exact, note=imported.note
        )
    mismatch = {
        i: int(np.sum(imported.trace.spikes[i] != spikes)) if i in imported.trace.spikes else -1
        for i, spikes in reference.spikes.items()
    }
    error = relative_error(imported.trace.readout, reference.readout)
    return CheckRow(imported.label, True, "", mismatch, error, imported.exact, imported.note)


def _rows(name: str, graph: nir.NIRGraph, spikes: np.ndarray, reference: Trace) -> list[CheckRow]:
    try:
        imports = support(name).imports
    except Unsupported as error:
        return [CheckRow(name, False, str(error), exact=False)]
    return [_row(imported, reference) for imported in imports(graph, spikes)]


def check_graph(
    graph: nir.NIRGraph,
    *,
    batch: int = 8,
    rate: float = DEFAULT_RATE,
    seed: int = 0,
    time_steps: int | None = None,
) -> CheckReport:
    """Loads ``graph`` into every framework with NIR support and compares each with the source.

    Args:
        graph: a canonical spikebench graph (``spikebench nir export``) or one like it.
        batch: samples in the random input.
        rate: spike probability of each input channel at each step.
        seed: of the random input.
        time_steps: ``T`` (default: the graph's spec, else 100).

    Raises:
        NIRGraphError: the graph is malformed or not a spikebench network (names the node).
        Unsupported: the source framework's NIR support does not import here.
    """
    spec, weights = spec_from_graph(graph)
    steps = time_steps or spec.time_steps
    rng = np.random.default_rng(seed)
    spikes = (rng.random((batch, steps, *spec.input_shape)) < rate).astype(np.float32)
    source = source_of(graph) or "spyx_core"
    reference = support(source).native(spec, weights, spikes)
    readers = sorted(supported(), key=lambda name: name != source)  # the source first
    rows = [row for name in readers for row in _rows(name, graph, spikes, reference)]
    counts = {i: int(s.sum()) for i, s in reference.spikes.items()}
    others = tuple(name for name in frameworks.names() if name not in readers)
    return CheckReport(source, batch, steps, rate, seed, counts, tuple(rows), others)


def _verdict(row: CheckRow, report: CheckReport) -> str:
    if not row.exact:
        return "n/a (semantic)" if row.loaded else "n/a"
    return "yes" if row.within(report.reference_spikes) else "NO"


def format_report(report: CheckReport, path: str) -> str:
    """The table ``nir check`` prints."""
    counts = ", ".join(f"layer {i}: {n}" for i, n in report.reference_spikes.items())
    lines = [
        f"NIR check of {path}: reference {report.source} (native model); input {report.batch} x "
        f"{report.time_steps} steps, spike rate {report.rate}, seed {report.seed}",
        f"reference spikes: {counts}",
        "",
        f"{'framework':26s} {'loaded':7s} {'spikes differing':22s} {'readout dev':12s} "
        f"{'within tol':15s} note",
    ]
    for row in report.rows:
        loaded = "yes" if row.loaded else f"no: {row.reason}"
        spikes = ", ".join(f"{i}: {n}" for i, n in (row.spike_mismatch or {}).items()) or "-"
        error = "-" if row.readout_error is None else f"{row.readout_error:.1e}"
        verdict = _verdict(row, report)
        if not row.loaded:
            lines.append(f"{row.framework:26s} {loaded}  {row.note}".rstrip())
            continue
        lines.append(
            f"{row.framework:26s} {loaded:7s} {spikes:22s} {error:12s} {verdict:15s} {row.note}"
        )
    if report.without_nir:
        lines.append(f"no NIR support here: {', '.join(report.without_nir)}")
    lines += [
        "",
        f"tolerance: readout max|u - u_ref| / max|u_ref| <= {READOUT_TOLERANCE:g}; differing spikes "
        f"<= {SPIKE_TOLERANCE:.1%} of the reference's in each layer",
        "all frameworks within tolerance" if report.ok else "SOME FRAMEWORKS ARE NOT WITHIN TOLERANCE",
    ]
    return "\n".join(lines)
