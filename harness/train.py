"""Training spyx_core on a task with augmentation and activity regularisers (``spikebench train``).

Every epoch is one compiled program (``spyx_core.make_trainer``): shuffle, unpack, augmentation
(``shift``, ``jitter``, drawn on the device from the epoch's key) and the activity regularisers
(``silence``, ``sparsity``, on the spike counts of the same forward pass) all run inside it. After
each epoch the compiled ``evaluate`` measures the test split (for the synthetic twin: the twin's
test split, drawn apart from its train split with the same classes).
"""

from __future__ import annotations

import functools
import sys
import time
from dataclasses import dataclass

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

import spyx_core
from frameworks.adapter import SpikeData
from frameworks.adapters.spyx_core_adapter import (
    DEFAULT_IMPL,
    MATMUL_PRECISION,
    from_haiku,
    make_spec_trainer,
    stage,
    to_haiku,
)
from frameworks.order import epoch_key
from frameworks.spec import ModelSpec, init_weights, shd_spec
from harness import datasets
from harness.errors import SpikebenchError

AUGMENTS = ("shift", "jitter")
"""The on-device augmentations ``TrainConfig.augment`` may name."""


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """What to train and how; ``None`` sample counts take the whole split.

    ``silence`` / ``sparsity`` are the regularisers' thresholds (None: off), each times its
    ``*_weight``; ``huber`` makes the sparsity penalty a Huber one with that delta.
    """

    task: str = "shd"
    epochs: int = 5
    hidden: int = 128
    neuron: str = "LIF"
    batch_size: int = 64
    time_steps: int = 256
    samples: int | None = None
    test_samples: int | None = None
    learning_rate: float = 5e-4
    seed: int = 0  # of the weights, the data, the sample order and the augmentation
    impl: str = DEFAULT_IMPL
    remat_chunk: int | None = None
    augment: tuple[str, ...] = ()
    max_shift: int = 4  # channels
    max_jitter: int = 2  # time steps
    silence: float | None = None
    silence_weight: float = 1e-3
    sparsity: float | None = None
    sparsity_weight: float = 1e-3
    huber: float | None = None
    data: str = "auto"
    data_dir: str | None = None


@dataclass(frozen=True)
class EpochStats:
    """One epoch's outcome; ``seconds`` is the training program alone (compiled beforehand)."""

    epoch: int
    loss: float  # mean task loss over the epoch's steps (without the penalty)
    penalty: float | None  # mean regulariser value, None without regularisers
    train_accuracy: float
    test_accuracy: float
    seconds: float


@dataclass(frozen=True)
class Trained:
    """What ``fit`` returns: the per-epoch history, the spec and the trained weights."""

    history: list[EpochStats]
    spec: ModelSpec
    weights: dict[str, np.ndarray]


def augmentation(config: TrainConfig) -> spyx_core.Augment | None:
    """The chosen augmentations as one on-device augmentation, or None."""
    steps = []
    if "shift" in config.augment:
        steps.append(functools.partial(spyx_core.shift_channels, max_shift=config.max_shift))
    if "jitter" in config.augment:
        steps.append(functools.partial(spyx_core.jitter_time, max_shift=config.max_jitter))
    return spyx_core.chain_augments(*steps) if steps else None


def regulariser(config: TrainConfig) -> spyx_core.Regulariser | None:
    """``silence_weight * silence + sparsity_weight * sparsity`` as chosen, or None."""
    terms = []
    if config.silence is not None:
        terms.append(lambda c: config.silence_weight * spyx_core.silence_penalty(c, config.silence))
    if config.sparsity is not None:
        terms.append(
            lambda c: (
                config.sparsity_weight * spyx_core.sparsity_penalty(c, config.sparsity, config.huber)
            )
        )
    if not terms:
        return None
    return lambda counts: sum(term(counts) for term in terms)


def describe_regularisers(config: TrainConfig) -> str:
    """The chosen regularisers in words, "none" without."""
    parts = []
    if config.silence is not None:
        parts.append(f"silence(min {config.silence:g}) x {config.silence_weight:g}")
    if config.sparsity is not None:
        huber = f", huber {config.huber:g}" if config.huber is not None else ""
        parts.append(f"sparsity(max {config.sparsity:g}{huber}) x {config.sparsity_weight:g}")
    return " + ".join(parts) or "none"


def load_split(config: TrainConfig, split: str, n_samples: int | None) -> SpikeData:
    """One split of the chosen data (``harness.datasets.load``), ``n_samples`` of it (None: all)."""
    source = {"source": config.data, "data_dir": config.data_dir}
    shape = {"time_steps": config.time_steps, "n_samples": n_samples}
    return datasets.load(config.task, split=split, seed=config.seed, **source, **shape)


def fit(config: TrainConfig) -> Trained:
    """Trains as ``config`` says, printing one line per epoch.

    Raises:
        SpikebenchError: the training set cannot fill one batch, or the data cannot be loaded.
    """
    train = load_split(config, "train", config.samples)
    test = load_split(config, "test", config.test_samples)
    if len(train) < config.batch_size:
        raise SpikebenchError(f"{len(train)} samples cannot fill one batch of {config.batch_size}")
    spec = shd_spec(
        channels=train.input_shape[0],
        hidden=config.hidden,
        time_steps=train.time_steps,
        neuron=config.neuron,
        learning_rate=config.learning_rate,
    )
    initial = init_weights(spec, seed=config.seed)
    trainer = make_spec_trainer(
        spec,
        initial,
        batch_size=config.batch_size,
        time_steps=train.time_steps,
        impl=config.impl,
        remat_chunk=config.remat_chunk,
        augment=augmentation(config),
        regulariser=regulariser(config),
    )
    print(
        f"train: {len(train)} {train.kind} {train.name} samples, test: {len(test)}; "
        f"{config.neuron} H={config.hidden} B={config.batch_size} T={train.time_steps}; "
        f"augment: {','.join(config.augment) or 'none'}; regularisers: {describe_regularisers(config)}"
    )
    with jax.default_matmul_precision(MATMUL_PRECISION):
        staged = [jax.device_put(stage(split)[0]) for split in (train, test)]
        history, params = _loop(config, trainer, to_haiku(spec, initial), *staged)
    return Trained(history, spec, {**initial, **from_haiku(jax.device_get(params))})


def _loop(
    config: TrainConfig,
    trainer: spyx_core.Trainer,
    params: hk.Params,
    train: spyx_core.StagedData,
    test: spyx_core.StagedData,
) -> tuple[list[EpochStats], hk.Params]:
    """Compiles the epoch and the evaluation once, then trains ``config.epochs`` epochs."""
    state = trainer.init(params)

    def key(epoch: int) -> jax.Array:
        return jax.device_put(jnp.uint32(epoch_key(config.seed, epoch)))

    start = time.perf_counter()
    epoch_fn = jax.jit(trainer.epoch, donate_argnums=0).lower(state, train, key(0)).compile()
    evaluate = jax.jit(trainer.evaluate).lower(state.params, test).compile()
    print(f"compiled in {time.perf_counter() - start:.1f} s")
    history: list[EpochStats] = []
    with tqdm(range(config.epochs), unit="epoch", file=sys.stderr, dynamic_ncols=True) as progress:
        for epoch in progress:
            jax.block_until_ready(state)
            start = time.perf_counter()
            state, metrics = epoch_fn(state, train, key(epoch))
            jax.block_until_ready(state)
            seconds = time.perf_counter() - start
            _, test_accuracy = evaluate(state.params, test)
            stats = _stats(epoch + 1, metrics, float(test_accuracy), seconds)
            history.append(stats)
            progress.set_postfix(acc=f"{stats.train_accuracy:.3f}", test=f"{stats.test_accuracy:.3f}")
            tqdm.write(epoch_line(stats, config.epochs))
    return history, state.params


def _stats(epoch: int, metrics: spyx_core.Metrics, test_accuracy: float, seconds: float) -> EpochStats:
    penalty = None if metrics.penalty is None else float(np.mean(metrics.penalty))
    return EpochStats(
        epoch=epoch,
        loss=float(np.mean(metrics.loss)),
        penalty=penalty,
        train_accuracy=float(np.mean(metrics.accuracy)),
        test_accuracy=test_accuracy,
        seconds=seconds,
    )


def epoch_line(stats: EpochStats, epochs: int) -> str:
    """The line printed after each epoch."""
    penalty = "" if stats.penalty is None else f"  penalty {stats.penalty:.4f}"
    return (
        f"epoch {stats.epoch}/{epochs}  loss {stats.loss:.4f}{penalty}  "
        f"train acc {stats.train_accuracy:.3f}  test acc {stats.test_accuracy:.3f}  "
        f"{stats.seconds:.2f} s"
    )
