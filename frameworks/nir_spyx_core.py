"""spyx_core's NIR support: ``spyx_core.nir`` writes and reads the canonical graph directly.

It honours everything the graph states: the exact ``beta`` and the subtractive delayed reset from
the node metadata, and the LI readout as a node. The round trip is exact.
"""

from __future__ import annotations

import nir
import numpy as np

from frameworks.nir_bridge import graph_from_spec, network_from_spec
from frameworks.nir_support import Imported, Trace
from frameworks.spec import IF, LIF, ModelSpec
from spyx_core import nir as snir

NAME = "spyx_core"


def export(spec: ModelSpec, weights: dict[str, np.ndarray]) -> nir.NIRGraph:
    """The canonical graph of ``spec`` with ``weights``, written by ``spyx_core.nir.to_nir``."""
    return graph_from_spec(spec, weights, source=NAME)


def _trace(network: snir.Network, spiking: list[int], spikes: np.ndarray) -> Trace:
    outputs = snir.run(network, np.moveaxis(spikes, 1, 0))
    return Trace({i: outputs[i] for i in spiking}, outputs[-1])


def native(spec: ModelSpec, weights: dict[str, np.ndarray], spikes: np.ndarray) -> Trace:
    """spyx_core's own run of the spec (its Haiku cores, parameters never through NIR)."""
    spiking = [i for i, layer in enumerate(spec.layers) if isinstance(layer, LIF | IF)]
    return _trace(network_from_spec(spec, weights), spiking, spikes)


def imports(graph: nir.NIRGraph, spikes: np.ndarray) -> list[Imported]:
    """The graph read by ``spyx_core.nir.from_nir`` and run."""
    try:
        network = snir.from_nir(graph)
    except snir.NIRGraphError as error:
        return [Imported(NAME, None, str(error), "")]
    spiking = [
        i for i, layer in enumerate(network.layers) if isinstance(layer, snir.LIFLayer | snir.IFLayer)
    ]
    note = "exact beta and subtractive delayed reset read from node metadata"
    return [Imported(NAME, _trace(network, spiking, spikes), None, note)]
