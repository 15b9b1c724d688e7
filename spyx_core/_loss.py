"""Integral losses and metrics on a time-major readout ``[T, B, K]``: logits are ``sum_t readout``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def integral_logits(readout: jax.Array) -> jax.Array:
    """Sums the readout over time (axis 0): ``[T, B, K] -> [B, K]``."""
    return readout.sum(axis=0)


def integral_crossentropy(readout: jax.Array, labels: jax.Array, *, smoothing: float = 0.3) -> jax.Array:
    """Softmax cross-entropy of the time-summed readout against smoothed one-hot labels.

    Targets are ``(1 - smoothing) * onehot + smoothing / K``; the result is the batch mean.
    """
    logits = integral_logits(readout)
    targets = optax.smooth_labels(jax.nn.one_hot(labels, logits.shape[-1]), smoothing)
    return optax.softmax_cross_entropy(logits, targets).mean()


def integral_accuracy(readout: jax.Array, labels: jax.Array) -> jax.Array:
    """Fraction of samples whose largest time-summed readout is the label."""
    return (jnp.argmax(integral_logits(readout), axis=-1) == labels).mean()
