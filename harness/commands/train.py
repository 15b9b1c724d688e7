"""``spikebench train``: train spyx_core on a task, report accuracy per epoch, save the weights.

The training loop is ``harness.train``; augmentation (``--augment shift,jitter``) and the activity
regularisers (``--silence MIN``, ``--sparsity MAX``) run inside its compiled epoch, and each epoch
ends with the test split's accuracy. The weights are saved in the framework-neutral format of
``frameworks.checkpoint``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
from pathlib import Path

import spyx_core
from frameworks.adapters.spyx_core_adapter import DEFAULT_IMPL
from frameworks.checkpoint import save_weights
from frameworks.spec import NEURON_TYPES
from harness.commands import _common
from harness.commands._common import non_negative, positive
from harness.train import AUGMENTS, TrainConfig, fit

HELP = "train spyx_core (augmentation, regularisers), print accuracy per epoch, save the weights"
WEIGHTS_ROOT = Path("results") / "weights"


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
    _common.add_epochs(parser, timed=False, default=5)
    add("--hidden", type=positive, default=128, help="hidden neurons H (default 128)")
    add("--neuron", default="LIF", choices=NEURON_TYPES, help="hidden neuron (default LIF)")
    add("--batch-size", type=positive, default=64, help="batch size (default 64)")
    add("--time-steps", type=positive, default=256, help="time steps T (default 256)")
    _common.add_samples(parser, "the whole train split")
    add("--test-samples", type=positive, help="test samples (default: the whole test split)")
    add("--lr", dest="learning_rate", type=float, default=5e-4, help="Adam learning rate (default 5e-4)")
    _common.add_seed(parser)
    impls = spyx_core.IMPLEMENTATIONS
    add("--impl", default=DEFAULT_IMPL, choices=impls, help=f"default {DEFAULT_IMPL}")
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
    _common.add_data_arguments(parser)
    add("--save", type=Path, help=f"weights file (default: {WEIGHTS_ROOT}/<task>-<timestamp>.npz)")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The ``TrainConfig`` the flags give (each flag's dest is the field's name)."""
    return TrainConfig(
        **{field.name: getattr(args, field.name) for field in dataclasses.fields(TrainConfig)}
    )


def default_weights_path(task: str) -> Path:
    """A new timestamped weights file under ``results/weights/``."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return WEIGHTS_ROOT / f"{task}-{stamp}.npz"


def run(args: argparse.Namespace) -> int:
    """Trains, prints the per-epoch lines and a summary, saves the weights; returns 0."""
    trained = fit(config_from_args(args))
    path = args.save or default_weights_path(args.task)
    save_weights(path, trained.spec, trained.weights)
    seconds = sorted(stats.seconds for stats in trained.history)
    print(f"median epoch {seconds[len(seconds) // 2]:.2f} s (compile excluded); weights: {path}")
    return 0
