"""Running a feed-forward stack of layers and neuron cores over time.

Two implementations compute the same function on a time-major input ``[T, B, ...]``:

* ``"scan"``: the way Spyx does it. All layers form one ``hk.DeepRNN``; one ``lax.scan`` steps
  through time and runs every layer at every step (``T`` sequential steps of small matmuls).
* ``"layerwise"``: one layer at a time. A stateless layer (Linear, Conv, ...) runs on all ``T``
  steps at once as one large operation; only a neuron core's recurrence is scanned over time.
  Valid because the network is feed-forward: no layer needs a later layer's state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import haiku as hk
import jax

Layer = Callable[[jax.Array], jax.Array] | hk.RNNCore
Impl = Literal["scan", "layerwise"]
IMPLEMENTATIONS: tuple[str, ...] = ("scan", "layerwise")


def run_sequential(
    layers: Sequence[Layer], x: jax.Array, *, impl: Impl = "layerwise", unroll: int = 1
) -> jax.Array:
    """Applies ``layers`` in order to ``x`` ``[T, B, ...]`` and returns the last output ``[T, B, ...]``.

    Must run inside ``hk.transform``. Neuron cores start from ``initial_state(B)``.

    Args:
        layers: stateless callables on ``[B, ...]`` and ``hk.RNNCore`` neurons.
        x: time-major input.
        impl: ``"scan"`` or ``"layerwise"`` (module docstring).
        unroll: ``lax.scan`` unroll factor of each time loop.

    Raises:
        ValueError: unknown ``impl``.
    """
    batch = x.shape[1]
    if impl == "scan":
        core = hk.DeepRNN(list(layers))
        out, _ = hk.dynamic_unroll(core, x, core.initial_state(batch), unroll=unroll)
        return out
    if impl == "layerwise":
        for layer in layers:
            if isinstance(layer, hk.RNNCore):
                x, _ = hk.dynamic_unroll(layer, x, layer.initial_state(batch), unroll=unroll)
            else:
                x = hk.BatchApply(layer)(x)
        return x
    raise ValueError(f"unknown impl {impl!r}; choose one of: {', '.join(IMPLEMENTATIONS)}")
