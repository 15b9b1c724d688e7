"""Training in compiled epochs: one call of ``epoch`` is one XLA program for the whole epoch.

Inside that program: shuffle on the device, drop the last incomplete batch (as the Spyx paper
does), then ``lax.scan`` over batches, each step unpacking its bits, taking ``value_and_grad`` of
the loss and applying the optax update. Compile it ahead of time to time compilation on its own::

    trainer = make_trainer(apply, optax.adam(5e-4), batch_size=64, time_steps=256)
    state = trainer.init(params)
    epoch = jax.jit(trainer.epoch).lower(state, data, key).compile()
    state, metrics = epoch(state, data, key)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from spyx_core._loss import integral_accuracy, integral_crossentropy
from spyx_core._pack import unpack_time

Params = Any
Apply = Callable[[Params, jax.Array], jax.Array]
"""``apply(params, x [T, B, ...]) -> readout [T, B, K]``."""
Loss = Callable[[jax.Array, jax.Array], jax.Array]
Shuffle = Callable[[jax.Array, int], jax.Array]
"""``shuffle(key, n) -> permutation of arange(n)``, traced inside the epoch."""


class StagedData(NamedTuple):
    """A dataset resident on the device."""

    spikes: jax.Array  # uint8 [N, ceil(T / 8), ...], bit-packed along time
    labels: jax.Array  # int32 [N]


class TrainState(NamedTuple):
    params: Params
    opt_state: optax.OptState


class Metrics(NamedTuple):
    loss: jax.Array  # [steps]: the loss of each step, before its update
    accuracy: jax.Array  # [steps]


class Trainer(NamedTuple):
    """``init(params) -> TrainState``; ``epoch(state, data, key) -> (state, Metrics)``;
    ``evaluate(params, data) -> (mean loss, accuracy)`` over every sample."""

    init: Callable[[Params], TrainState]
    epoch: Callable[[TrainState, StagedData, jax.Array], tuple[TrainState, Metrics]]
    evaluate: Callable[[Params, StagedData], tuple[jax.Array, jax.Array]]


def random_shuffle(key: jax.Array, n: int) -> jax.Array:
    """The default shuffle: ``jax.random.permutation``."""
    return jax.random.permutation(key, n)


def make_trainer(
    apply: Apply,
    optimizer: optax.GradientTransformation,
    *,
    batch_size: int,
    time_steps: int,
    loss: Loss = integral_crossentropy,
    shuffle: Shuffle = random_shuffle,
) -> Trainer:
    """Builds the compiled-epoch trainer for ``apply`` (see module docstring).

    Args:
        apply: the network, time-major in and out.
        optimizer: any optax transformation.
        batch_size: samples per step; ``N // batch_size`` steps per epoch.
        time_steps: ``T`` of the packed spikes.
        loss: ``loss(readout, labels)``; integral cross-entropy (smoothing 0.3) by default.
        shuffle: permutation of the samples from the epoch's key.
    """

    def loss_and_accuracy(params, packed, labels):
        readout = apply(params, unpack_time(packed, time_steps))
        return loss(readout, labels), integral_accuracy(readout, labels)

    def step(state: TrainState, batch: tuple[jax.Array, jax.Array]):
        (value, accuracy), grads = jax.value_and_grad(loss_and_accuracy, has_aux=True)(
            state.params, *batch
        )
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return TrainState(params, opt_state), Metrics(value, accuracy)

    def epoch(state: TrainState, data: StagedData, key: jax.Array):
        n = data.labels.shape[0]
        steps = n // batch_size
        if steps == 0:
            raise ValueError(f"{n} samples cannot fill one batch of {batch_size}")
        order = shuffle(key, n)[: steps * batch_size].reshape(steps, batch_size)
        batches = (data.spikes[order], data.labels[order])
        return jax.lax.scan(step, state, batches)

    def evaluate(params: Params, data: StagedData):
        n = data.labels.shape[0]
        steps = -(-n // batch_size)
        index = jnp.arange(steps * batch_size).reshape(steps, batch_size)
        valid = index < n
        index = jnp.minimum(index, n - 1)

        def batch_sums(_, batch):
            idx, mask = batch
            readout = apply(params, unpack_time(data.spikes[idx], time_steps))
            labels = data.labels[idx]
            losses = jax.vmap(lambda r, y: loss(r[:, None], y[None]), in_axes=(1, 0))(readout, labels)
            correct = jnp.argmax(readout.sum(0), -1) == labels
            return None, (jnp.where(mask, losses, 0).sum(), jnp.where(mask, correct, 0).sum())

        _, (loss_sums, correct) = jax.lax.scan(batch_sums, None, (index, valid))
        return loss_sums.sum() / n, correct.sum() / n

    return Trainer(lambda params: TrainState(params, optimizer.init(params)), epoch, evaluate)
