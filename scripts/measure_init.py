"""Hidden spike rates and first-step loss of the tasks' networks at their initial weights.

The measurement behind ``frameworks.spec.SHD_GAINS`` / ``NMNIST_GAINS`` (docs/initialisation.md):
for each weight gain, the canonical forward (spyx_core) on the first batch of the synthetic twin
(or ``--data real``), at the paper's sizes. Usage::

    python scripts/measure_init.py shd --hidden 128 --gains 1,1 3,0.02
    python scripts/measure_init.py nmnist --gains 1,1 2,0.1
"""

from __future__ import annotations

import argparse
import dataclasses

import jax
import numpy as np

import frameworks
from frameworks.adapters.spyx_core_adapter import network, to_haiku
from frameworks.spec import init_weights, nmnist_spec, shd_spec
from harness import datasets


def measure(task: str, hidden: int, width: int, batch: int, source: str, gains: list[str]) -> None:
    steps = 256 if task == "shd" else 64
    data = datasets.load(
        task, split="train", source=source, data_dir=None, time_steps=steps, n_samples=batch, seed=0
    )
    spikes, labels = data.unpacked()[:batch].astype(np.float32), data.labels[:batch]
    print(f"{task} ({data.kind}), input density {spikes.mean():.4f}, batch {batch}, T {steps}")
    adapter = frameworks.load("spyx_core")
    for pair in gains:
        hidden_gain, readout_gain = (float(g) for g in pair.split(","))
        base = (
            shd_spec(hidden=hidden, time_steps=steps)
            if task == "shd"
            else nmnist_spec(width=width, time_steps=steps, input_shape=data.input_shape)
        )
        spec = dataclasses.replace(base, weight_gain=hidden_gain, readout_gain=readout_gain)
        weights = init_weights(spec, seed=0)
        forward = network(spec, weights, impl="scan", unroll=1, return_counts=True)
        readout, counts = jax.jit(forward.apply)(to_haiku(spec, weights), spikes)
        rates = [float(np.asarray(c).sum()) / (np.asarray(c).size * steps) for c in counts]
        loss, _ = adapter.loss_and_grads(spec, weights, spikes, labels)
        logits = np.asarray(readout).sum(0)
        print(
            f"  gains {hidden_gain:g}/{readout_gain:g}: hidden rates "
            + ", ".join(f"{r:.2%}" for r in rates)
            + f"; logit std {logits.std():.3f}; first-step loss {float(loss):.4f}"
            + f" (ln K = {np.log(logits.shape[1]):.4f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=("shd", "nmnist"))
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--width", type=int, default=1)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--data", default="synthetic", choices=("synthetic", "real"))
    parser.add_argument("--gains", nargs="+", default=["1,1"], help="HIDDEN,READOUT pairs")
    args = parser.parse_args()
    measure(args.task, args.hidden, args.width, args.batch, args.data, args.gains)


if __name__ == "__main__":
    main()
