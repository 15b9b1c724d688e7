"""Activity regularisers on spike counts collected during the forward pass.

``counts`` is a sequence of per-layer spike counts, each ``[B, *size]`` (spikes summed over time),
as ``run_sequential(..., return_counts=True)`` returns them. Both penalties follow Spyx's
``silence_reg`` and ``sparsity_reg`` and differentiate through the surrogate gradient of every spike.
With ``c[b, j]`` the count of neuron ``j`` (flattened) of one layer for sample ``b``, and ``B`` the
batch size::

    silence   = sum_layers sum_j relu(min_spikes - mean_b c[b, j]) ** 2
    sparsity  = mean_b sum_layers rho(relu(mean_j c[b, j] - max_spikes))

The silence penalty pushes up every neuron whose average count over the batch falls below
``min_spikes`` (a neuron silent for the whole batch learns nothing). The sparsity penalty pushes
down a layer whose average count per neuron exceeds ``max_spikes`` on a sample; ``rho(e) = e ** 2``,
or the Huber loss ``0.5 e ** 2`` for ``e <= delta`` else ``delta * (e - 0.5 delta)`` when
``huber_delta`` is given (linear, so bounded gradients, for large excesses).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import optax


def _flat(count: jax.Array) -> jax.Array:
    """``[B, *size] -> [B, N]``."""
    return count.reshape(count.shape[0], -1)


def silence_penalty(counts: Sequence[jax.Array], min_spikes: float) -> jax.Array:
    """Quadratic penalty on neurons that spike fewer than ``min_spikes`` times on average.

    Args:
        counts: per-layer spike counts ``[B, *size]``.
        min_spikes: the least average count per neuron and sample that goes unpenalised.

    Returns:
        A scalar (module docstring: ``silence``); zero for an empty ``counts``.
    """
    total = jnp.zeros((), jnp.float32)
    for count in counts:
        deficit = jax.nn.relu(min_spikes - _flat(count).mean(axis=0))
        total = total + jnp.sum(deficit**2)
    return total


def sparsity_penalty(
    counts: Sequence[jax.Array], max_spikes: float, huber_delta: float | None = None
) -> jax.Array:
    """Penalty on layers whose mean count per neuron exceeds ``max_spikes`` on a sample.

    Args:
        counts: per-layer spike counts ``[B, *size]``.
        max_spikes: the largest mean count per neuron (per layer and sample) that goes unpenalised.
        huber_delta: use the Huber loss with this ``delta`` instead of the square.

    Returns:
        A scalar (module docstring: ``sparsity``); zero for an empty ``counts``.
    """
    total = jnp.zeros((), jnp.float32)
    for count in counts:
        excess = jax.nn.relu(_flat(count).mean(axis=1) - max_spikes)  # [B]
        huber = huber_delta is not None
        cost = optax.losses.huber_loss(excess, delta=huber_delta) if huber else excess**2
        total = total + cost.mean()
    return total
