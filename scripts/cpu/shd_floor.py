"""spyx_core's SHD training epoch against its dense floor, in one process (docs/shd-floor.md).

For the paper's SHD network (C=128 inputs, hidden H, two LIF layers, LI readout K=20) at batch B
and T steps, it times, interleaved round by round so that machine load hits every quantity alike:

* the **dense floor**: the step's eight matmuls at their real shapes, each compiled alone
  (forward ``x @ W`` per layer, ``x^T @ dy`` per layer, ``dy @ W^T`` for all but the first),
  summed. Twice: ``fresh``, the product in a new buffer on every call (as ``harness.floor`` times
  it; on the CPU XLA maps every large new buffer fresh, so this includes first-touch page
  faults), and ``warm``, the product written into a donated buffer that is already mapped (the
  arithmetic and the operands' traffic alone);
* spyx_core's **compiled epoch** for each variant at two sample counts (``--steps``), as
  ``Session.train_epoch`` runs it; the difference between the two gives the **marginal** seconds
  per step, without what an epoch call pays once (the temp arena's page faults, the shuffle);
* the **minor page faults** per epoch call (the temp arena is mapped fresh on every call).

Prints one table per H and writes every sample to ``--out`` (JSON). Seconds are wall-clock
minima over ``--repeats`` rounds (CPU seconds beside them); run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import spyx_core
from frameworks.adapter import SpikeData
from frameworks.adapters.spyx_core_adapter import SpyxCoreAdapter
from frameworks.jax_base import MATMUL_PRECISION
from frameworks.spec import init_weights, shd_spec
from harness import floor

CHANNELS, CLASSES, INPUT_RATE = 128, 20, 0.05


def matmul_shapes(hidden: int, batch: int, steps: int) -> dict[str, tuple]:
    """The step's eight matmuls: name -> (lhs shape, rhs shape, contracting dims)."""
    m, c, h, k = batch * steps, CHANNELS, hidden, CLASSES
    forward, weight, inputs = ((1,), (0,)), ((0,), (0,)), ((1,), (1,))
    return {
        "x@W0": ((m, c), (c, h), forward), "s1@W2": ((m, h), (h, h), forward),
        "s2@W4": ((m, h), (h, k), forward), "dW0": ((m, c), (m, h), weight),
        "dW2": ((m, h), (m, h), weight), "dW4": ((m, h), (m, k), weight),
        "ds2": ((m, k), (h, k), inputs), "ds1": ((m, h), (h, h), inputs),
    }  # fmt: skip


def _matmul_calls(lhs: tuple, rhs: tuple, dims: tuple) -> dict[str, Callable[[], None]]:
    """``fresh`` and ``warm`` calls of one matmul (module docstring; ``harness.floor``), each
    synchronised."""
    rng = np.random.default_rng(0)
    a, b = (jnp.asarray(rng.standard_normal(shape, np.float32)) for shape in (lhs, rhs))

    def product(a, b):
        return jax.lax.dot_general(a, b, (dims, ((), ())), precision=MATMUL_PRECISION)

    calls = {"fresh": floor.fresh_call(product, (a, b)), "warm": floor.warm_call(product, (a, b))}
    return {kind: (lambda call=call: jax.block_until_ready(call())) for kind, call in calls.items()}


def _session(variant: str, hidden: int, batch: int, time_steps: int, steps: int):
    spec = shd_spec(hidden=hidden, time_steps=time_steps)
    rng = np.random.default_rng(steps)
    spikes = rng.random((batch * steps, time_steps, CHANNELS), dtype=np.float32) < INPUT_RATE
    labels = rng.integers(0, CLASSES, batch * steps).astype(np.int32)
    data = SpikeData(spyx_core.pack_time(spikes), labels, time_steps, kind="synthetic", name="shd")
    adapter = SpyxCoreAdapter(**SpyxCoreAdapter.VARIANTS[variant])
    session = adapter.session(spec, init_weights(spec, seed=0), data, device="cpu",
                              batch_size=batch, seed=0)  # fmt: skip
    session.compile()
    session.train_epoch(0)
    session.synchronize()
    return session


def _timed(call: Callable[[], None]) -> dict[str, float]:
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
            "minflt": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults}  # fmt: skip


def measure(hidden: int, variants: list[str], steps: list[int], *, batch: int, time_steps: int,
            repeats: int) -> dict:  # fmt: skip
    """Every sample of one H (module docstring): ``{name: [{"wall", "cpu", "minflt"}, ...]}``."""
    calls: dict[str, Callable[[], None]] = {}
    for name, shape in matmul_shapes(hidden, batch, time_steps).items():
        for kind, call in _matmul_calls(*shape).items():
            calls[f"{kind}:{name}"] = call
    for variant in variants:
        for n in steps:
            session = _session(variant, hidden, batch, time_steps, n)
            epochs = iter(range(1, 1 << 30))

            def epoch(session=session, epochs=epochs) -> None:
                session.train_epoch(next(epochs))
                session.synchronize()

            calls[f"epoch:{variant}:{n}"] = epoch
    samples: dict[str, list] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            samples[name].append(_timed(call))
    return samples


def summarise(samples: dict, variants: list[str], steps: list[int]) -> list[str]:
    """The table: both floors, each variant's seconds per step, marginal per step and ratios."""

    def best(name: str, clock: str = "wall") -> float:
        return min(sample[clock] for sample in samples[name])

    floors = {kind: sum(best(name) for name in samples if name.startswith(f"{kind}:"))
              for kind in ("fresh", "warm")}  # fmt: skip
    lines = [f"dense floor per step: fresh {floors['fresh']:.4f} s, warm {floors['warm']:.4f} s"]
    low, high = min(steps), max(steps)
    for variant in variants:
        per_step = {n: best(f"epoch:{variant}:{n}") / n for n in steps}
        marginal = (best(f"epoch:{variant}:{high}") - best(f"epoch:{variant}:{low}")) / (high - low)
        faults = min(sample["minflt"] for sample in samples[f"epoch:{variant}:{low}"])
        for n in steps:
            lines.append(f"  {variant} {n} steps/epoch: {per_step[n]:.4f} s/step = "
                         f"{per_step[n] / floors['fresh']:.3f} x fresh floor, "
                         f"{per_step[n] / floors['warm']:.3f} x warm floor")  # fmt: skip
        lines.append(f"  {variant} marginal: {marginal:.4f} s/step = "
                     f"{marginal / floors['fresh']:.3f} x fresh, "
                     f"{marginal / floors['warm']:.3f} x warm; "
                     f"{faults} minor page faults per epoch call")  # fmt: skip
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--variants", default="fused,fused_spikes")
    parser.add_argument("--steps", type=int, nargs=2, default=[2, 8], help="steps per epoch (two)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--time-steps", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="JSON of every sample")
    args = parser.parse_args()
    variants = args.variants.split(",")
    record = {"device": jax.devices("cpu")[0].device_kind, "args": vars(args) | {"out": str(args.out)}}
    for hidden in args.hidden:
        samples = measure(hidden, variants, args.steps, batch=args.batch_size,
                          time_steps=args.time_steps, repeats=args.repeats)  # fmt: skip
        print(f"H={hidden} (B={args.batch_size}, T={args.time_steps}, C={CHANNELS})")
        print("\n".join(summarise(samples, variants, args.steps)), flush=True)
        record[f"H={hidden}"] = samples
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
