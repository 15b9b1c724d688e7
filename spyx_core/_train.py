"""Training in compiled epochs: one call of ``epoch`` is one XLA program for the whole epoch.

Inside that program: shuffle on the device, drop the last incomplete batch (as the Spyx paper
does), then ``lax.scan`` over batches, each step unpacking its bits, taking ``value_and_grad`` of
the loss and applying the optax update. Compile it ahead of time to time compilation on its own::

    trainer = make_trainer(apply, optax.adam(5e-4), batch_size=64, time_steps=256)
    state = trainer.init(params)
    epoch = jax.jit(trainer.epoch).lower(state, data, key).compile()
    state, metrics = epoch(state, data, key)

Two optional additions stay inside that one program. ``augment(key, x)`` transforms each unpacked
batch ``x`` ``[T, B, ...]`` (``_augment.py``) with a key drawn there: the epoch's key becomes a PRNG
key (``augment_key``) and step ``i`` uses ``fold_in(that key, i)``. ``regulariser(counts)`` adds an
activity penalty to the loss; the network must then return ``(readout, counts)``
(``run_sequential(..., return_counts=True)``), so the counts come from the same forward pass.
Evaluation never augments and ignores the counts.

``step`` is one step of that epoch on its own (the batch's sample indices, the epoch's key and
the step's number as arguments), for a host loop that compiles one step instead of one epoch
(``batch_order`` gives the batches): the same updates, where a program per epoch is slower
(docs/cpu-performance.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from spyx_core._augment import Augment
from spyx_core._loss import integral_accuracy, integral_crossentropy
from spyx_core._pack import unpack_time

Params = Any
Apply = Callable[[Params, jax.Array], jax.Array]
"""``apply(params, x [T, B, ...]) -> readout [T, B, K]``."""
Loss = Callable[[jax.Array, jax.Array], jax.Array]
Shuffle = Callable[[jax.Array, int], jax.Array]
"""``shuffle(key, n) -> permutation of arange(n)``, traced inside the epoch."""
Decode = Callable[[jax.Array, int], jax.Array]
"""``decode(staged batch, T) -> x [T, B, ...]`` float, e.g. ``unpack_time`` or ``unpack_counts``."""
Regulariser = Callable[[list[jax.Array]], jax.Array]
"""``regulariser(counts) -> scalar`` added to the loss; counts as ``run_sequential`` returns them."""

_AUGMENT_STREAM = 0x5A9  # folded into the epoch key so augmentation draws apart from the shuffle

_COUNTS_REQUIRED = (
    "make_trainer(regulariser=...) needs apply(params, x) to return (readout, counts), e.g. via "
    "run_sequential(..., return_counts=True); it returned {kind}"
)


class StagedData(NamedTuple):
    """A dataset resident on the device."""

    spikes: jax.Array  # uint8 [N, ceil(T / 8), ...] bit-packed along time (or count bit planes)
    labels: jax.Array  # int32 [N]


class TrainState(NamedTuple):
    params: Params
    opt_state: optax.OptState


class Metrics(NamedTuple):
    loss: jax.Array  # [steps]: the loss of each step, before its update (without the penalty)
    accuracy: jax.Array  # [steps]
    penalty: jax.Array | None = None  # [steps]: the regulariser's value; None without one


class Trainer(NamedTuple):
    """``init(params) -> TrainState``; ``epoch(state, data, key) -> (state, Metrics)``;
    ``evaluate(params, data) -> (mean loss, accuracy)`` over every sample;
    ``step(state, data, index, key, i) -> (state, Metrics)``: step ``i`` of the epoch with key
    ``key`` alone, on the samples ``index`` ``[B]`` (row ``i`` of ``batch_order(shuffle, key, N, B)``),
    for a host loop that compiles one step instead of one epoch: the same updates as ``epoch``."""

    init: Callable[[Params], TrainState]
    epoch: Callable[[TrainState, StagedData, jax.Array], tuple[TrainState, Metrics]]
    evaluate: Callable[[Params, StagedData], tuple[jax.Array, jax.Array]]
    step: Callable[[TrainState, StagedData, jax.Array, jax.Array, jax.Array], tuple[TrainState, Metrics]]


def random_shuffle(key: jax.Array, n: int) -> jax.Array:
    """The default shuffle: ``jax.random.permutation``."""
    return jax.random.permutation(key, n)


def batch_order(shuffle: Shuffle, key: Any, n: int, batch_size: int) -> Any:
    """The epoch's batches ``[n // batch_size, batch_size]``: the shuffled samples, the last
    incomplete batch dropped. ``shuffle`` may be a host (numpy) function for a host loop.

    Raises:
        ValueError: fewer than ``batch_size`` samples.
    """
    steps = n // batch_size
    if steps == 0:
        raise ValueError(f"{n} samples cannot fill one batch of {batch_size}")
    return shuffle(key, n)[: steps * batch_size].reshape(steps, batch_size)


def augment_key(key: jax.Array) -> jax.Array:
    """The PRNG key augmentation draws from, derived inside the program from the epoch's key.

    A typed key (``jax.random.key``) is used as is, a legacy ``uint32[2]`` key is wrapped, and an
    integer scalar (the hash-shuffle keys of the adapters) seeds ``jax.random.key``. The result is
    folded with a fixed stream number, so that it differs from what the shuffle drew from.

    Args:
        key: the ``key`` argument of ``Trainer.epoch``.

    Returns:
        A typed PRNG key.
    """
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        typed = key
    elif key.shape == (2,) and key.dtype == jnp.uint32:
        typed = jax.random.wrap_key_data(key)
    elif key.shape == ():
        typed = jax.random.key(key)
    else:
        raise ValueError(f"cannot make a PRNG key of a {key.dtype}{list(key.shape)} array")
    return jax.random.fold_in(typed, _AUGMENT_STREAM)


def make_trainer(
    apply: Apply,
    optimizer: optax.GradientTransformation,
    *,
    batch_size: int,
    time_steps: int,
    loss: Loss = integral_crossentropy,
    shuffle: Shuffle = random_shuffle,
    augment: Augment | None = None,
    regulariser: Regulariser | None = None,
    decode: Decode = unpack_time,
) -> Trainer:
    """Builds the compiled-epoch trainer for ``apply`` (see module docstring).

    Args:
        apply: the network, time-major in and out; with a ``regulariser`` it returns
            ``(readout, counts)``.
        optimizer: any optax transformation.
        batch_size: samples per step; ``N // batch_size`` steps per epoch.
        time_steps: ``T`` of the packed spikes.
        loss: ``loss(readout, labels)``; integral cross-entropy (smoothing 0.3) by default.
        shuffle: permutation of the samples from the epoch's key.
        augment: applied to every unpacked training batch with a per-step key (module docstring).
        regulariser: penalty on the spike counts, added to the loss that is differentiated.
        decode: staged batch -> float input ``[T, B, ...]``; ``unpack_time`` for bit-packed
            spikes, ``unpack_counts`` for count bit planes.
    """

    def forward(params: Params, x: jax.Array) -> tuple[jax.Array, list[jax.Array] | None]:
        out = apply(params, x)
        if regulariser is None:
            return out, None
        if not isinstance(out, tuple | list) or len(out) != 2:
            raise TypeError(_COUNTS_REQUIRED.format(kind=type(out).__name__))
        return out[0], out[1]

    def objective(params, packed, labels, step_key):
        x = decode(packed, time_steps)
        if augment is not None:
            x = augment(step_key, x)
        readout, counts = forward(params, x)
        value, accuracy = loss(readout, labels), integral_accuracy(readout, labels)
        if regulariser is None:
            return value, Metrics(value, accuracy)
        penalty = regulariser(counts)
        return value + penalty, Metrics(value, accuracy, penalty)

    def step(state: TrainState, batch: tuple[jax.Array, jax.Array, jax.Array | None]):
        (_, metrics), grads = jax.value_and_grad(objective, has_aux=True)(state.params, *batch)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return TrainState(params, opt_state), metrics

    def one_step(state: TrainState, data: StagedData, index: jax.Array, key: jax.Array, i: jax.Array):
        step_key = None if augment is None else jax.random.fold_in(augment_key(key), i)
        return step(state, (data.spikes[index], data.labels[index], step_key))

    def epoch(state: TrainState, data: StagedData, key: jax.Array):
        order = batch_order(shuffle, key, data.labels.shape[0], batch_size)
        steps = order.shape[0]
        step_keys = None
        if augment is not None:
            root = augment_key(key)
            step_keys = jax.vmap(lambda i: jax.random.fold_in(root, i))(jnp.arange(steps))
        batches = (data.spikes[order], data.labels[order], step_keys)
        return jax.lax.scan(step, state, batches)

    def evaluate(params: Params, data: StagedData):
        n = data.labels.shape[0]
        steps = -(-n // batch_size)
        index = jnp.arange(steps * batch_size).reshape(steps, batch_size)
        valid = index < n
        index = jnp.minimum(index, n - 1)

        def batch_sums(_, batch):
            idx, mask = batch
            readout, _ = forward(params, decode(data.spikes[idx], time_steps))
            labels = data.labels[idx]
            losses = jax.vmap(lambda r, y: loss(r[:, None], y[None]), in_axes=(1, 0))(readout, labels)
            correct = jnp.argmax(readout.sum(0), -1) == labels
            return None, (jnp.where(mask, losses, 0).sum(), jnp.where(mask, correct, 0).sum())

        _, (loss_sums, correct) = jax.lax.scan(batch_sums, None, (index, valid))
        return loss_sums.sum() / n, correct.sum() / n

    return Trainer(lambda params: TrainState(params, optimizer.init(params)), epoch, evaluate, one_step)
