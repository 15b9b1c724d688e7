"""spyx_core's NIR support: ``spyx_core.nir`` writes and reads the canonical graph directly.

It honours everything the graph states: the exact ``beta`` and the subtractive delayed reset from
the node metadata, and the LI readout as a node. The round trip is exact.
"""

from __future__ import annotations

import nir
import numpy as np

from frameworks.nir import Imported, Trace
from frameworks.nir.bridge import graph_from_spec, network_from_spec
from frameworks.spec import ModelSpec
from spyx_core import nir as snir

NOTE = "exact beta and subtractive delayed reset read from node metadata"
"""What spyx_core's import honours (the note of its one way)."""


_SPIKING = snir.LIFLayer | snir.IFLayer


def _trace(network: snir.Network, spiking: list[int], spikes: np.ndarray) -> Trace:
    outputs = snir.run(network, np.moveaxis(spikes, 1, 0))
    return Trace({i: outputs[i] for i in spiking}, outputs[-1])


class SpyxCoreNIR:
    """``NIRSupport`` of spyx_core (``frameworks.nir.NIRSupport``)."""

    name = "spyx_core"

    def export(self, spec: ModelSpec, weights: dict[str, np.ndarray]) -> nir.NIRGraph:
        """The canonical graph of ``spec`` with ``weights``, written by ``spyx_core.nir.to_nir``."""
        return graph_from_spec(spec, weights, source=self.name)

    def native(self, spec: ModelSpec, weights: dict[str, np.ndarray], spikes: np.ndarray) -> Trace:
        """spyx_core's own run of the spec (its Haiku cores, parameters never through NIR)."""
        spiking = [i for i, layer in enumerate(spec.layers) if layer.spiking]
        return _trace(network_from_spec(spec, weights), spiking, spikes)

    def imports(self, graph: nir.NIRGraph, spikes: np.ndarray) -> list[Imported]:
        """The graph read by ``spyx_core.nir.from_nir`` and run."""
        try:
            network = snir.from_nir(graph)
        except snir.NIRGraphError as error:
            return [Imported(self.name, None, str(error), "")]
        spiking = [i for i, layer in enumerate(network.layers) if isinstance(layer, _SPIKING)]
        return [Imported(self.name, _trace(network, spiking, spikes), None, NOTE)]
