"""The torch frameworks' NIR support: the ``TorchNIR`` base, and running their modules over time.

``TorchNIR`` is what snnTorch's and Norse's support share (``export``, ``native``, ``imports``);
each subclass supplies its exporter, importer and fix-ups. NIR importers return modules that take
one time step: ``module(x_t, state) -> (y_t, state)`` (nirtorch's GraphModule / GraphExecutor).
Forward hooks on the neuron submodules collect their spikes, so every framework's spikes can be
compared layer by layer. A graph with nodes that an importer cannot map (``nir.Threshold``) is
imported in pieces (``_normalise.segments``) and run as one ``Chained`` module that applies those
nodes between the pieces.
"""

from __future__ import annotations

import abc
import contextlib
import io
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, ClassVar, NamedTuple

import nir
import numpy as np
import torch

from frameworks.nir import Imported, Trace
from frameworks.nir._normalise import canonicalise, segments, without_readout
from frameworks.spec import IF, LIF, MaxPool2d, ModelSpec
from spyx_core import nir as snir

if TYPE_CHECKING:
    from frameworks.torch_base import TorchAdapter

NIRTORCH_DEPRECATIONS = r"nirtorch\.(extract_nir_graph|load) is being deprecated"
"""nirtorch's deprecation of the API that snnTorch 1.0.0 and Norse 1.1.0 call (not theirs to fix)."""

POOL_NOTE = "; max-pool thresholds applied between imported pieces"
"""Added to the exact way's note of a graph with max-pools (``Chained``)."""


@contextmanager
def quiet() -> Iterator[None]:
    """Swallows what the torch frameworks' NIR code prints to stdout (snnTorch's importer and
    exporter do) and ``NIRTORCH_DEPRECATIONS``."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", NIRTORCH_DEPRECATIONS, DeprecationWarning)
        yield


@contextmanager
def recording(modules: Mapping[int, torch.nn.Module]) -> Iterator[dict[int, list[torch.Tensor]]]:
    """Collects the spikes (first output) of each module, keyed as ``modules``, while active."""
    seen: dict[int, list[torch.Tensor]] = {index: [] for index in modules}
    handles = []
    for index, module in modules.items():

        def hook(_module, _inputs, output, index=index):
            spikes = output[0] if isinstance(output, tuple) else output
            seen[index].append(spikes.detach().clone())

        handles.append(module.register_forward_hook(hook))
    try:
        yield seen
    finally:
        for handle in handles:
            handle.remove()


def _stacked(seen: dict[int, list[torch.Tensor]]) -> dict[int, np.ndarray]:
    return {index: torch.stack(steps).numpy() for index, steps in seen.items()}


@torch.no_grad()
def run_steps(
    module: torch.nn.Module, spikes: np.ndarray, neurons: Mapping[int, torch.nn.Module]
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Runs a one-step ``module(x_t, state) -> (y_t, state)`` over ``spikes`` ``[B, T, ...]``.

    Returns:
        ``(y [T, B, ...], {index: spikes [T, B, n]})`` for the given neuron submodules.
    """
    x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(spikes, 1, 0), np.float32))
    state, outputs = None, []
    with recording(neurons) as seen:
        for x_t in x:
            y_t, state = module(x_t, state)
            outputs.append(y_t.detach())
    return torch.stack(outputs).numpy(), _stacked(seen)


@torch.no_grad()
def run_sequence(
    module: Callable, spikes: np.ndarray, neurons: Mapping[int, torch.nn.Module]
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Runs a whole-sequence adapter module (``[T, B, ...] -> [T, B, K]``), recording spikes."""
    x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(spikes, 1, 0), np.float32))
    with recording(neurons) as seen:
        readout = module(x)
    return readout.numpy(), _stacked(seen)


def apply_readout(current: np.ndarray, readout: snir.Decoded) -> np.ndarray:
    """The LI readout kept outside the graph: ``u[t] = beta * u[t-1] + gain * y[t]`` (float32)."""
    beta = np.clip(readout.layer.beta, 0.0, 1.0).astype(np.float32)
    gain = np.float32(1.0) if readout.gain is None else readout.gain.astype(np.float32)
    u = np.zeros(current.shape[1:], np.float32)
    out = np.empty_like(current, dtype=np.float32)
    for t, y in enumerate(current.astype(np.float32)):
        u = beta * u + gain * y
        out[t] = u
    return out


def imported_trace(
    module: torch.nn.Module,
    spikes: np.ndarray,
    neurons: Mapping[int, torch.nn.Module],
    readout: snir.Decoded | None,
) -> Trace:
    """A ``Trace`` of an imported one-step module whose LI readout (if any) was cut out of the graph."""
    current, recorded = run_steps(module, spikes, neurons)
    return Trace(recorded, current if readout is None else apply_readout(current, readout))


def spiking_nodes(graph: nir.NIRGraph) -> list[str]:
    """Names of the graph's LIF/IF nodes, which are the spec's layer indices in canonical graphs."""
    return [name for name, node in graph.nodes.items() if isinstance(node, nir.LIF | nir.IF)]


class Chained(torch.nn.Module):
    """Imported pieces of one graph run in turn, each threshold applied between two of them.

    ``forward(x_t, state) -> (y_t, state)`` as an importer's module; ``state`` holds each piece's.
    A threshold ``z = 1 if x > threshold else 0`` (``nir.Threshold``) is the one node kind cut out.
    """

    def __init__(self, pieces: list[torch.nn.Module], thresholds: list[nir.Threshold]):
        super().__init__()
        self.pieces = torch.nn.ModuleList(pieces)
        self.levels = [torch.from_numpy(np.asarray(t.threshold, np.float32)) for t in thresholds]

    def forward(self, x: torch.Tensor, state: list | None = None) -> tuple[torch.Tensor, list]:
        state = [None] * len(self.pieces) if state is None else list(state)
        for index, piece in enumerate(self.pieces):
            x, state[index] = piece(x, state[index])
            if index < len(self.levels):
                x = (x > self.levels[index]).to(x.dtype)
        return x, state

    def node(self, name: str) -> torch.nn.Module:
        """The imported module of NIR node ``name`` (importers name submodules ``a_b`` for ``a.b``)."""
        attribute = name.replace(".", "_")
        for piece in self.pieces:
            if hasattr(piece, attribute):
                return getattr(piece, attribute)
        raise KeyError(f"no imported module for node {name!r}")


def load_and_run(
    label: str,
    load: Callable[[nir.NIRGraph], torch.nn.Module],
    graph: nir.NIRGraph,
    spikes: np.ndarray,
    readout: snir.Decoded | None,
    *,
    note: str,
    exact: bool,
) -> Imported:
    """Imports ``graph`` piece by piece with ``load`` and runs it; a failure becomes the result.

    Args:
        label: the row's name.
        load: builds the one-step module of one piece (``_normalise.segments``) with the
            framework's importer.
        graph: the graph prepared for the importer (its LI readout already cut out).
        spikes: input ``[B, T, ...]``.
        readout: the cut-out readout (``without_readout``), None when there was none.
        note: what was done outside the importer, or the semantic difference kept.
        exact: whether this way should reproduce the canonical model.
    """
    try:
        layer = {name: i for i, names in enumerate(snir.layer_names(graph)) for name in names}
        pieces, thresholds = segments(graph)
        module = Chained([load(piece) for piece in pieces], thresholds)
        neurons = {layer[n]: module.node(n) for n in spiking_nodes(graph)}
        trace = imported_trace(module, spikes, neurons, readout)
    except Exception as error:  # importers fail by assert, ValueError, TypeError when run...: a result
        return Imported(label, None, f"{type(error).__name__}: {error}", note, exact)
    return Imported(label, trace, None, note, exact)


class Way(NamedTuple):
    """One way of loading a graph into a framework (a row of ``nir check``).

    Attributes:
        label: the row's name.
        load: builds the one-step module of one piece of the prepared graph (``load_and_run``).
        note: what was done outside the importer, or the semantic difference kept.
        exact: whether this way should reproduce the canonical model.
    """

    label: str
    load: Callable[[nir.NIRGraph], torch.nn.Module]
    note: str
    exact: bool


def import_ways(
    graph: nir.NIRGraph,
    spikes: np.ndarray,
    prepare: Callable[[nir.NIRGraph], nir.NIRGraph],
    ways: Iterable[Way],
) -> list[Imported]:
    """``graph`` with its LI readout cut out (``without_readout``) and ``prepare`` applied, loaded
    and run each way. A graph that cannot be prepared is a result too: every way gives the reason.
    """
    ways = list(ways)
    try:
        cut, readout = without_readout(graph)
        prepared = prepare(cut)
    except ValueError as error:  # NIRGraphError among them: the preparation refuses the graph
        reason = f"{type(error).__name__}: {error}"
        return [Imported(way.label, None, reason, way.note, way.exact) for way in ways]
    return [
        load_and_run(way.label, way.load, prepared, spikes, readout, note=way.note, exact=way.exact)
        for way in ways
    ]


class TorchNIR(abc.ABC):
    """The ``NIRSupport`` of a torch framework, through its own NIR exporter and importer.

    A subclass names the framework and its adapter class, states its notes and implements the four
    hooks; ``export``, ``native`` and ``imports`` are the same for every such framework:

    * ``export`` traces ``export_module(spec, weights)`` through ``to_nir`` with one unbatched
      sample (docs/nir.md#what-works-and-what-fails) and canonicalises the graph it returns;
    * ``native`` runs the adapter's network (``adapter().model(spec, weights)``, whose ``layers``
      hold one module per spec layer), recording each spiking layer;
    * ``imports`` cuts the LI readout out of the graph, applies ``prepare`` and loads it two ways:
      with the reset the graph states (``load(..., canonical=True)``) and as the importer builds it.
    """

    name: ClassVar[str]
    """The framework's registered name, and the label of its rows."""
    adapter: ClassVar[type[TorchAdapter]]
    """The framework's adapter class, whose network ``native`` runs."""
    exact_note: ClassVar[str]
    """What the exact way does outside the importer."""
    importer_note: ClassVar[str]
    """The semantic difference that the importer's own reset keeps."""
    inexact_nodes: ClassVar[dict[type, str]] = {}
    """Node type -> the semantic difference that makes even the exact way inexact on a graph with one."""
    tau_scale: ClassVar[float] = 1.0
    """Factor on every ``tau`` the exporter writes (``_normalise.canonicalise``)."""

    @abc.abstractmethod
    def export_module(self, spec: ModelSpec, weights: dict[str, np.ndarray]) -> torch.nn.Module:
        """The module that the framework's exporter turns into the canonical graph."""

    @abc.abstractmethod
    def to_nir(self, module: torch.nn.Module, sample: torch.Tensor) -> nir.NIRGraph:
        """The framework's exporter on ``module`` with one unbatched ``sample``."""

    @abc.abstractmethod
    def prepare(self, graph: nir.NIRGraph) -> nir.NIRGraph:
        """A canonical graph (its LI readout cut out) re-expressed for the framework's importer."""

    @abc.abstractmethod
    def load(self, graph: nir.NIRGraph, *, canonical: bool) -> torch.nn.Module:
        """One piece of a prepared graph through the framework's importer: a one-step module, its
        neurons given the graph's reset when ``canonical``, as the importer builds them otherwise."""

    def export(self, spec: ModelSpec, weights: dict[str, np.ndarray]) -> nir.NIRGraph:
        """The canonical graph, through the framework's exporter and ``_normalise.canonicalise``."""
        module = self.export_module(spec, weights)
        with quiet():
            graph = self.to_nir(module, torch.zeros(spec.input_shape))
        readout = [str(len(spec.layers) - 1)]  # the exporters name a Sequential's modules by index
        maxpools = [str(i) for i, layer in enumerate(spec.layers) if isinstance(layer, MaxPool2d)]
        return canonicalise(
            graph,
            source=self.name,
            dt=snir.DT,
            tau_scale=self.tau_scale,
            readout=readout,
            maxpools=maxpools,
            spec=spec,
        )

    def native(self, spec: ModelSpec, weights: dict[str, np.ndarray], spikes: np.ndarray) -> Trace:
        """The adapter's own network on ``spikes``, with each spiking layer's spikes."""
        net = self.adapter().model(spec, weights)
        spiking = {i: net.layers[i] for i, kind in enumerate(spec.layers) if isinstance(kind, LIF | IF)}
        readout, recorded = run_sequence(net, spikes, spiking)
        return Trace(recorded, readout)

    def imports(self, graph: nir.NIRGraph, spikes: np.ndarray) -> list[Imported]:
        """The graph through the framework's importer: with the graph's reset, and as imported.

        The LI readout and any max-pool thresholds are applied outside the framework.
        """
        kinds = {type(node) for node in graph.nodes.values()}
        note, exact = self.exact_note + (POOL_NOTE if nir.Threshold in kinds else ""), True
        for kind, difference in self.inexact_nodes.items():
            if kind in kinds:
                note, exact = f"{note}; {difference}", False
        canonical = Way(self.name, partial(self.load, canonical=True), note, exact)
        stock = partial(self.load, canonical=False)
        importer = Way(f"{self.name}, importer reset", stock, self.importer_note, False)
        return import_ways(graph, spikes, self.prepare, (canonical, importer))
