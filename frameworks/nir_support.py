"""Which frameworks read and write NIR, and the interface each one's NIR module offers.

A framework's NIR module (``frameworks.nir_<name>``) goes through that framework's own NIR code and
provides:

* ``export(spec, weights) -> nir.NIRGraph``: the canonical graph, via the framework's exporter;
* ``native(spec, weights, spikes) -> Trace``: its own model of the spec (the adapter's), for reference;
* ``imports(graph, spikes) -> list[Imported]``: the graph loaded through its importer and run, one
  entry per way of loading it (e.g. with the graph's reset honoured, and as the importer leaves it).

Spikes in are ``[B, T, *input_shape]`` (as the adapters take them); traces are time-major.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import NamedTuple

import numpy as np

from frameworks.adapter import Unsupported

MODULES: dict[str, str] = {
    "spyx_core": "frameworks.nir_spyx_core",
    "snntorch": "frameworks.nir_snntorch",
    "norse": "frameworks.nir_norse",
}
"""Framework name -> its NIR module. A framework not listed has no NIR support."""


class Trace(NamedTuple):
    """One run of a network.

    Attributes:
        spikes: spiking-layer index (in the spec) -> its spikes ``[T, B, n]``.
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


def load(name: str) -> ModuleType:
    """The NIR module of framework ``name``.

    Raises:
        Unsupported: the framework has no NIR support, or its NIR code does not import here.
    """
    if name not in MODULES:
        raise Unsupported(f"{name} has no NIR support in spikebench")
    try:
        return importlib.import_module(MODULES[name])
    except ImportError as error:
        raise Unsupported(f"{name}'s NIR support does not import: {error}") from None
