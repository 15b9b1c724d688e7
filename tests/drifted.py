"""Deliberately drifted torch adapters: an adapter's LIF swapped for a wrong one, for tests that
show a check failing when the maths is off."""

from __future__ import annotations

import torch

from frameworks.spec import LIF
from frameworks.torch_base import TorchAdapter, lif_builder


def with_lif(
    base: type[TorchAdapter], lif_class: type[torch.nn.Module], name: str
) -> type[TorchAdapter]:
    """``base`` with its LIF module replaced by ``lif_class`` (built as ``lif_builder`` builds),
    registered under ``name``; its docstring is ``lif_class``'s, which says what is wrong."""
    neurons = {**base.neurons, LIF: lif_builder(lif_class)}
    attributes = {"name": name, "neurons": neurons, "__doc__": lif_class.__doc__}
    return type(f"{lif_class.__name__}Adapter", (base,), attributes)
