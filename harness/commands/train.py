"""``spikebench train``: train spyx_core on a task, report accuracy per epoch, save the weights.

Every epoch is one compiled program (``spyx_core.make_trainer``): shuffle, unpack, augmentation
(``--augment shift,jitter``, drawn on the device from the epoch's key) and the activity
regularisers (``--silence MIN``, ``--sparsity MAX``, on the spike counts of the same forward pass)
all run inside it. After each epoch the compiled ``evaluate`` measures the test split (for the
synthetic twin: the twin's test split, drawn apart from its train split with the same classes).
The weights are saved in the framework-neutral format of ``frameworks.checkpoint``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
from tqdm import tqdm

import spyx_core
from frameworks.adapter import SpikeData
from frameworks.adapters.spyx_core_adapter import (
    MATMUL_PRECISION,
    from_haiku,
    make_spec_trainer,
    stage,
    to_haiku,
)
from frameworks.checkpoint import save_weights
from frameworks.order import epoch_key
from frameworks.spec import NEURON_TYPES, ModelSpec, init_weights, shd_spec
from harness import datasets
from harness.commands._arguments import non_negative, positive
from harness.errors import SpikebenchError

HELP = "train spyx_core (augmentation, regularisers), print accuracy per epoch, save the weights"
AUGMENTS = ("shift", "jitter")
WEIGHTS_ROOT = Path("results") / "weights"


@dataclass(frozen=True)
class EpochStats:
    """One epoch's outcome; ``seconds`` is the training program alone (compiled beforehand)."""

    epoch: int
    loss: float  # mean task loss over the epoch's steps (without the penalty)
    penalty: float | None  # mean regulariser value, None without regularisers
    train_accuracy: float
    test_accuracy: float
    seconds: float


def _augment_list(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in (*AUGMENTS, "none")]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown augmentation {', '.join(unknown)}; choose from {', '.join(AUGMENTS)} or none"
        )
    return tuple(name for name in names if name != "none")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The model, data, augmentation, regulariser and output options (``--help``)."""
    add = parser.add_argument
    add("--task", default="shd", choices=["shd"], help="task (default: shd)")
    add("--epochs", type=positive, default=5, help="epochs (default 5)")
    add("--hidden", type=positive, default=128, help="hidden neurons H (default 128)")
    add("--neuron", default="LIF", choices=NEURON_TYPES, help="hidden neuron (default LIF)")
    add("--batch-size", type=positive, default=64, help="batch size (default 64)")
    add("--time-steps", type=positive, default=256, help="time steps T (default 256)")
    add("--samples", type=positive, help="training samples (default: the whole train split)")
    add("--test-samples", type=positive, help="test samples (default: the whole test split)")
    add("--lr", type=float, default=5e-4, help="Adam learning rate (default 5e-4)")
    add("--seed", type=int, default=0, help="seed of weights, data, order and augmentation")
    add("--impl", default="fused", choices=spyx_core.IMPLEMENTATIONS, help="default fused")
    add(
        "--remat-chunk",
        type=positive,
        metavar="K",
        help="rematerialise pieces of K time steps: less memory, about one more forward pass",
    )
    group = parser.add_argument_group("augmentation (on the device, training batches only)")
    group.add_argument(
        "--augment",
        type=_augment_list,
        default=(),
        help="comma-separated: shift (random channel shift per sample), jitter (random time "
        "shift per sample and channel); default none",
    )
    group.add_argument("--max-shift", type=non_negative, default=4, help="channels (default 4)")
    group.add_argument("--max-jitter", type=non_negative, default=2, help="time steps (default 2)")
    group = parser.add_argument_group("activity regularisers (spyx_core/_regularise.py)")
    group.add_argument("--silence", type=float, metavar="MIN", help="penalise neurons below MIN spikes")
    group.add_argument("--silence-weight", type=float, default=1e-3, help="default 1e-3")
    group.add_argument("--sparsity", type=float, metavar="MAX", help="penalise layers above MAX spikes")
    group.add_argument("--sparsity-weight", type=float, default=1e-3, help="default 1e-3")
    group.add_argument("--huber", type=float, metavar="DELTA", help="Huber sparsity penalty")
    datasets.add_data_arguments(parser)
    add("--save", type=Path, help=f"weights file (default: {WEIGHTS_ROOT}/<task>-<timestamp>.npz)")


def augmentation(args: argparse.Namespace) -> spyx_core.Augment | None:
    """The ``--augment`` choices as one on-device augmentation, or None."""
    steps = []
    if "shift" in args.augment:
        steps.append(functools.partial(spyx_core.shift_channels, max_shift=args.max_shift))
    if "jitter" in args.augment:
        steps.append(functools.partial(spyx_core.jitter_time, max_shift=args.max_jitter))
    return spyx_core.chain_augments(*steps) if steps else None


def regulariser(args: argparse.Namespace) -> spyx_core.Regulariser | None:
    """``silence_weight * silence + sparsity_weight * sparsity`` as chosen, or None."""
    terms = []
    if args.silence is not None:
        terms.append(lambda c: args.silence_weight * spyx_core.silence_penalty(c, args.silence))
    if args.sparsity is not None:
        terms.append(
            lambda c: args.sparsity_weight * spyx_core.sparsity_penalty(c, args.sparsity, args.huber)
        )
    if not terms:
        return None
    return lambda counts: sum(term(counts) for term in terms)


def load_split(args: argparse.Namespace, split: str, n_samples: int | None) -> SpikeData:
    """One split of the chosen data (``harness.datasets.load``)."""
    return datasets.load(
        args.task,
        split=split,
        source=args.data,
        data_dir=args.data_dir,
        time_steps=args.time_steps,
        n_samples=n_samples,
        seed=args.seed,
    )


def fit(args: argparse.Namespace) -> tuple[list[EpochStats], ModelSpec, dict[str, np.ndarray]]:
    """Trains as ``args`` say, printing one line per epoch; returns the history, spec and weights.

    Raises:
        SpikebenchError: the training set cannot fill one batch, or the data cannot be loaded.
    """
    train, test = load_split(args, "train", args.samples), load_split(args, "test", args.test_samples)
    if len(train) < args.batch_size:
        raise SpikebenchError(f"{len(train)} samples cannot fill one batch of {args.batch_size}")
    spec = shd_spec(
        channels=train.input_shape[0],
        hidden=args.hidden,
        time_steps=train.time_steps,
        neuron=args.neuron,
        learning_rate=args.lr,
    )
    initial = init_weights(spec, seed=args.seed)
    trainer = make_spec_trainer(
        spec,
        initial,
        batch_size=args.batch_size,
        time_steps=train.time_steps,
        impl=args.impl,
        remat_chunk=args.remat_chunk,
        augment=augmentation(args),
        regulariser=regulariser(args),
    )
    print(
        f"train: {len(train)} {train.kind} {train.name} samples, test: {len(test)}; "
        f"{args.neuron} H={args.hidden} B={args.batch_size} T={train.time_steps}; "
        f"augment: {','.join(args.augment) or 'none'}; regularisers: {_describe(args)}"
    )
    with jax.default_matmul_precision(MATMUL_PRECISION):
        staged = [jax.device_put(stage(split)[0]) for split in (train, test)]
        history, params = _loop(args, trainer, to_haiku(spec, initial), *staged)
    return history, spec, {**initial, **from_haiku(jax.device_get(params))}


def _describe(args: argparse.Namespace) -> str:
    parts = []
    if args.silence is not None:
        parts.append(f"silence(min {args.silence:g}) x {args.silence_weight:g}")
    if args.sparsity is not None:
        huber = f", huber {args.huber:g}" if args.huber is not None else ""
        parts.append(f"sparsity(max {args.sparsity:g}{huber}) x {args.sparsity_weight:g}")
    return " + ".join(parts) or "none"


def _loop(
    args: argparse.Namespace,
    trainer: spyx_core.Trainer,
    params: hk.Params,
    train: spyx_core.StagedData,
    test: spyx_core.StagedData,
) -> tuple[list[EpochStats], hk.Params]:
    """Compiles the epoch and the evaluation once, then trains ``args.epochs`` epochs."""
    state = trainer.init(params)

    def key(epoch: int) -> jax.Array:
        return jax.device_put(jnp.uint32(epoch_key(args.seed, epoch)))

    start = time.perf_counter()
    epoch_fn = jax.jit(trainer.epoch, donate_argnums=0).lower(state, train, key(0)).compile()
    evaluate = jax.jit(trainer.evaluate).lower(state.params, test).compile()
    print(f"compiled in {time.perf_counter() - start:.1f} s")
    history: list[EpochStats] = []
    with tqdm(range(args.epochs), unit="epoch", file=sys.stderr, dynamic_ncols=True) as progress:
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
            tqdm.write(_line(stats, args.epochs))
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


def _line(stats: EpochStats, epochs: int) -> str:
    penalty = "" if stats.penalty is None else f"  penalty {stats.penalty:.4f}"
    return (
        f"epoch {stats.epoch}/{epochs}  loss {stats.loss:.4f}{penalty}  "
        f"train acc {stats.train_accuracy:.3f}  test acc {stats.test_accuracy:.3f}  "
        f"{stats.seconds:.2f} s"
    )


def default_weights_path(task: str) -> Path:
    """A new timestamped weights file under ``results/weights/``."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return WEIGHTS_ROOT / f"{task}-{stamp}.npz"


def run(args: argparse.Namespace) -> int:
    """Trains, prints the per-epoch lines and a summary, saves the weights; returns 0."""
    history, spec, weights = fit(args)
    path = args.save or default_weights_path(args.task)
    save_weights(path, spec, weights)
    seconds = sorted(stats.seconds for stats in history)
    print(f"median epoch {seconds[len(seconds) // 2]:.2f} s (compile excluded); weights: {path}")
    return 0
