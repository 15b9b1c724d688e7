"""Moving a network between frameworks through NIR: the ``NIRSupport`` contract and its discovery.

A framework brings NIR support through its adapter: the adapter class names a class implementing
``NIRSupport`` in ``nir_support = "module:attribute"`` (``frameworks.adapter.AdapterBase``), which
is imported only when used. ``support(name)`` is that class's instance for a registered framework,
``supported()`` lists every registered framework whose support imports here, so an adapter
installed from another package (entry point ``spikebench.frameworks``) brings its NIR support
without any edit of spikebench. docs/nir.md describes the graphs and each framework's support.

The modules here, one concern each: ``bridge`` (a ``ModelSpec`` and weights <-> a canonical graph),
``io`` (NIR files), ``check`` (``spikebench nir check``), ``spyx_core_nir``/``snntorch_nir``/
``norse_nir`` (the in-tree ``NIRSupport`` classes), ``_torch`` (the ``TorchNIR`` base of the torch
ones and their runners), ``_normalise`` (fix-ups between the canonical graph and third-party code).

Spikes in are ``[B, T, *input_shape]`` (as the adapters take them); traces are time-major. This
module imports neither ``nir`` nor a framework's library: where the ``nir`` extra is missing,
``supported()`` is empty rather than an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol

import numpy as np

import frameworks
from frameworks.adapter import Unsupported

if TYPE_CHECKING:
    import nir

    from frameworks.spec import ModelSpec


class Trace(NamedTuple):
    """One run of a network.

    Attributes:
        spikes: spiking-layer index (in the spec) -> its spikes ``[T, B, ...]``.
        readout: the LI readout ``[T, B, K]``.
    """

    spikes: dict[int, np.ndarray]
    readout: np.ndarray


class Imported(NamedTuple):
    """A graph loaded into one framework one way.

    Attributes:
        label: e.g. ``"snntorch"`` or ``"snntorch, importer reset"``.
        trace: the run, None when the graph did not load.
        error: why it did not load (None when it did).
        note: what was done outside the importer, or the semantic difference it keeps.
        exact: whether this way is meant to reproduce the canonical model (within tolerance);
            False for a way that keeps a documented semantic difference.
    """

    label: str
    trace: Trace | None
    error: str | None
    note: str
    exact: bool = True


class NIRSupport(Protocol):
    """A framework's NIR support, going through that framework's own NIR code.

    An adapter names its implementing class in ``nir_support``; the class is built without
    arguments. ``nir check`` compares every framework's ``imports`` against the exporting
    framework's ``native`` run.
    """

    def export(self, spec: ModelSpec, weights: dict[str, np.ndarray]) -> nir.NIRGraph:
        """The canonical graph of ``spec`` with ``weights``, written by the framework's exporter.

        The graph follows docs/nir.md#the-canonical-graph (metadata ``"source"`` names the
        framework, ``"spec"`` the spec as JSON).

        Raises:
            Unsupported: a layer the framework's exporter cannot write (the message says why).
        """
        ...

    def native(self, spec: ModelSpec, weights: dict[str, np.ndarray], spikes: np.ndarray) -> Trace:
        """The framework's own model of ``spec`` (the adapter's network, never through NIR) run on
        ``spikes`` ``[B, T, ...]``: the reference a graph it exported is compared with."""
        ...

    def imports(self, graph: nir.NIRGraph, spikes: np.ndarray) -> list[Imported]:
        """``graph`` loaded through the framework's importer and run on ``spikes``, one entry per way
        of loading it (e.g. with the graph's reset honoured, and as the importer leaves it).

        A graph that does not load is an entry with ``trace=None`` and the reason, never a raise.
        """
        ...


def support(name: str) -> NIRSupport:
    """The NIR support of registered framework ``name`` (``frameworks.load(name).nir()``).

    Raises:
        Unsupported: ``name`` is not registered or does not import here, or it has no NIR support
            or that does not import (the message says which).
    """
    try:
        adapter = frameworks.load(name)
    except (frameworks.UnknownFramework, frameworks.FrameworkUnavailable) as error:
        raise Unsupported(f"no NIR support for {name}: {error}") from None
    return adapter.nir()


def supported() -> list[str]:
    """Every registered framework (sorted) that imports here and whose NIR support imports."""
    found = []
    for name in frameworks.names():
        try:
            support(name)
        except Unsupported:
            continue
        found.append(name)
    return found


__all__ = ["Imported", "NIRSupport", "Trace", "support", "supported"]
