"""The canonical stateless layers as torch modules, shared by every torch adapter."""

from __future__ import annotations

import torch

from frameworks.spec import STATELESS, Conv2d, Flatten, Layer, Linear, MaxPool2d


def is_stateless(layer: Layer) -> bool:
    """Whether ``layer`` acts on each time step alone (Linear, Conv2d, MaxPool2d, Flatten)."""
    return isinstance(layer, STATELESS)


def stateless_module(layer: Layer) -> tuple[torch.nn.Module, dict[str, torch.nn.Parameter]]:
    """The torch module for a stateless canonical layer and its parameters by canonical suffix.

    Inputs are ``[B, *shape]`` with channel-first feature maps, so ``Flatten`` keeps the canonical
    (C, H, W) order.
    """
    if isinstance(layer, Linear):
        module = torch.nn.Linear(layer.n_in, layer.n_out, bias=False)
        return module, {"weight": module.weight}
    if isinstance(layer, Conv2d):
        module = torch.nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, bias=False)
        return module, {"weight": module.weight}
    if isinstance(layer, MaxPool2d):
        return torch.nn.MaxPool2d(layer.kernel_size), {}
    if isinstance(layer, Flatten):
        return torch.nn.Flatten(), {}
    raise TypeError(f"{type(layer).__name__} is not a stateless layer")
