"""snnTorch's NIR support (``snntorch.export_nir`` / ``snntorch.import_nir``, snnTorch 1.0.0).

What its importer cannot represent, and what this module does about it:

* ``nir.LI`` has no mapping (``ValueError: Unknown node type``): the readout is cut from the graph
  and applied outside it (``_normalise.without_readout``).
* Every LIF becomes ``Leaky(reset_mechanism="zero", reset_delay=False)``, a reset to zero at once,
  not the canonical subtraction one step later; ``import_from_nir`` takes no option for it. The
  ``"snntorch"`` entry rebuilds each such neuron as ``snn.Leaky`` with the importer's own beta and
  threshold and the reset the node metadata states; ``"snntorch, importer reset"`` keeps the
  importer's neurons, so its deviation is the reset semantics alone.
* IF needs ``r = 1`` and becomes ``Leaky(beta=0.9, init_hidden=False)``: a leak the IF node does not
  have, and a ``(spikes, membrane)`` tuple output that breaks the next module of the imported
  graph (``TypeError`` when run). The ``"snntorch"`` entry's rebuilt neurons fix both.
* ``dt = 1e-4`` is hard-coded (``_normalise.for_snntorch`` re-expresses other time steps).
* ``nir.Threshold`` has no mapping (nirtorch: ``Unknown node type``): the graph is imported in
  pieces cut at each Threshold (the second half of a max-pool of spikes), and the threshold is
  applied between them (``_torch.Chained``). ``nir.SumPool2d`` comes from nirtorch's default
  map (``LPPool2d(norm_type=1)``: the window sum, exact on spikes); Conv2d and Flatten are its own.
* ``Flatten(start_dim, end_dim)`` becomes ``torch.nn.Flatten`` with the same dims, which the
  batched run would apply to the batch axis; ``_normalise.segments`` moves them past it.

Its exporter does not encode the reset mechanism: the readout ``Leaky(reset_mechanism="none")``
comes out as a spiking LIF, which ``export`` turns back into LI. It has no MaxPool2d (it prints a
warning and writes None): ``export`` traces the network with an ``AvgPool2d`` of the same window in
its place (the pool it can write) and turns that node into the canonical SumPool2d + Threshold
pair. The importer and exporter print to stdout; that output is swallowed.
"""

from __future__ import annotations

import nir
import numpy as np
import snntorch as snn
import torch
from snntorch.export_nir import export_to_nir
from snntorch.import_nir import import_from_nir

from frameworks.adapter import Unsupported
from frameworks.adapters.snntorch_adapter import SnnTorchAdapter
from frameworks.nir._normalise import for_snntorch
from frameworks.nir._torch import TorchNIR, quiet, spiking_nodes
from frameworks.spec import IF, ModelSpec
from spyx_core import nir as snir


def _honour_reset(module: torch.nn.Module, graph: nir.NIRGraph) -> None:
    """Rebuilds every imported neuron with the reset its node states (its beta and threshold kept)."""
    for name in spiking_nodes(graph):
        node = graph.nodes[name]
        if node.metadata.get("reset") != snir.RESET_METADATA["reset"]:
            continue
        old = getattr(module, name.replace(".", "_"))
        # The importer gives IF a leak (beta 0.9); an IF node has none.
        beta = torch.ones_like(old.beta) if isinstance(node, nir.IF) else old.beta.detach().clone()
        new = snn.Leaky(beta=beta, threshold=old.threshold.detach().clone(), init_hidden=True)
        setattr(module, name.replace(".", "_"), new)  # defaults: subtract, one step later


class SnnTorchNIR(TorchNIR):
    """``NIRSupport`` of snnTorch (module docstring)."""

    name = "snntorch"
    adapter = SnnTorchAdapter
    exact_note = "LI readout applied outside the graph; neurons rebuilt with the metadata's reset"
    importer_note = "semantic difference: importer resets to zero at once (canonical: subtract, delayed)"

    def export_module(self, spec: ModelSpec, weights: dict[str, np.ndarray]) -> torch.nn.Sequential:
        """The adapter's network as the ``init_hidden`` Sequential that snnTorch's exporter traces
        with one unbatched sample: max-pools as ``AvgPool2d`` (module docstring), ``Flatten`` from
        dim 0."""
        net = SnnTorchAdapter().model(spec, weights)
        modules = []
        for index, module in enumerate(net.layers):
            if isinstance(module, torch.nn.Linear | torch.nn.Conv2d):
                modules.append(module)
            elif isinstance(module, torch.nn.MaxPool2d):
                modules.append(torch.nn.AvgPool2d(module.kernel_size))
            elif isinstance(module, torch.nn.Flatten):
                modules.append(torch.nn.Flatten(start_dim=0))  # the sample has no batch axis
            elif isinstance(module, snn.Leaky) and not isinstance(spec.layers[index], IF):
                beta = module.beta.detach().clone()
                # Per-neuron threshold: a 0-d one fails (docs/nir.md#what-works-and-what-fails).
                threshold = torch.full_like(beta, float(spec.theta))
                modules.append(
                    snn.Leaky(
                        beta=beta,
                        threshold=threshold,
                        reset_mechanism=module.reset_mechanism,
                        init_hidden=True,
                    )
                )
            else:
                kind = type(spec.layers[index]).__name__
                raise Unsupported(f"snntorch's NIR export of layer {index} ({kind}) is not supported")
        return torch.nn.Sequential(*modules)

    def to_nir(self, module: torch.nn.Module, sample: torch.Tensor) -> nir.NIRGraph:
        """``snntorch.export_nir.export_to_nir``."""
        return export_to_nir(module, sample)

    def prepare(self, graph: nir.NIRGraph) -> nir.NIRGraph:
        """``_normalise.for_snntorch``: snnTorch's ``dt``, every input gain 1."""
        return for_snntorch(graph)

    def load(self, graph: nir.NIRGraph, *, canonical: bool) -> torch.nn.Module:
        """``snntorch.import_nir.import_from_nir``; ``canonical``: neurons rebuilt with the
        graph's reset."""
        with quiet():
            module = import_from_nir(graph)
        if canonical:
            _honour_reset(module, graph)
        return module
