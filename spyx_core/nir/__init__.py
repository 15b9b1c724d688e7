"""NIR export and import for spyx_core networks (needs the ``nir`` package: ``pip install nir``).

``to_nir(network)`` writes a feed-forward network of Linear, Conv2d, max-pool, Flatten, LIF, LI and
IF layers as a NIR graph (a max-pool as a marked SumPool2d + Threshold pair, ``spyx_core.nir._layers``);
``from_nir(graph)`` reads one back; ``run(network, x)`` runs it with spyx_core's cores. The mapping
between the discrete parameters and NIR's continuous ones is derived in ``spyx_core.nir._params``::

    >>> import numpy as np
    >>> from spyx_core import nir as snir
    >>> net = snir.Network(layers=(snir.LinearLayer(weight=np.ones((4, 2), np.float32)),
    ...                            snir.LILayer(beta=np.full(2, 0.8, np.float32))), input_shape=(4,))
    >>> back = snir.from_nir(snir.to_nir(net))
    >>> bool(np.array_equal(back.layers[1].beta, net.layers[1].beta))
    True
"""

from spyx_core.nir._errors import NIRGraphError as NIRGraphError
from spyx_core.nir._graph import Network as Network
from spyx_core.nir._graph import chain as chain
from spyx_core.nir._graph import from_nir as from_nir
from spyx_core.nir._graph import layer_names as layer_names
from spyx_core.nir._graph import to_nir as to_nir
from spyx_core.nir._layers import MAXPOOL_KEY as MAXPOOL_KEY
from spyx_core.nir._layers import MAXPOOL_THRESHOLD as MAXPOOL_THRESHOLD
from spyx_core.nir._layers import ConvLayer as ConvLayer
from spyx_core.nir._layers import Decoded as Decoded
from spyx_core.nir._layers import FlattenLayer as FlattenLayer
from spyx_core.nir._layers import IFLayer as IFLayer
from spyx_core.nir._layers import Layer as Layer
from spyx_core.nir._layers import LIFLayer as LIFLayer
from spyx_core.nir._layers import LILayer as LILayer
from spyx_core.nir._layers import LinearLayer as LinearLayer
from spyx_core.nir._layers import MaxPoolLayer as MaxPoolLayer
from spyx_core.nir._layers import as_str as as_str
from spyx_core.nir._layers import channel_gain as channel_gain
from spyx_core.nir._layers import decode as decode
from spyx_core.nir._layers import encode as encode
from spyx_core.nir._layers import part_name as part_name
from spyx_core.nir._params import BETA_TOLERANCE as BETA_TOLERANCE
from spyx_core.nir._params import DT as DT
from spyx_core.nir._params import RESET_METADATA as RESET_METADATA
from spyx_core.nir._params import beta_from_tau as beta_from_tau
from spyx_core.nir._params import if_to_nir as if_to_nir
from spyx_core.nir._params import leaky_gain as leaky_gain
from spyx_core.nir._params import leaky_to_nir as leaky_to_nir
from spyx_core.nir._params import lif_to_nir as lif_to_nir
from spyx_core.nir._run import haiku_params as haiku_params
from spyx_core.nir._run import run as run
from spyx_core.nir._run import transform as transform

__all__ = [
    "BETA_TOLERANCE",
    "DT",
    "MAXPOOL_KEY",
    "MAXPOOL_THRESHOLD",
    "RESET_METADATA",
    "ConvLayer",
    "Decoded",
    "FlattenLayer",
    "IFLayer",
    "LIFLayer",
    "LILayer",
    "Layer",
    "LinearLayer",
    "MaxPoolLayer",
    "NIRGraphError",
    "Network",
    "as_str",
    "beta_from_tau",
    "chain",
    "channel_gain",
    "decode",
    "encode",
    "from_nir",
    "haiku_params",
    "if_to_nir",
    "layer_names",
    "leaky_gain",
    "leaky_to_nir",
    "lif_to_nir",
    "part_name",
    "run",
    "to_nir",
    "transform",
]
