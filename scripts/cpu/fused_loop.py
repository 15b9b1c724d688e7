"""How the fused neuron operations' loops scale with T, with a trained and with a fixed decay.

Times the forward and the VJP of ``spyx_core._fused.membrane_sequence`` and ``spike_sequence``
alone, for one layer of ``--neurons`` neurons at batch ``--batch`` and each of ``--steps`` time
steps, the decay either differentiated (trained) or a constant (``train_beta`` off). Time linear in
T means each loop updates its buffer in place; a loop that copies its whole ``[T, B, n]`` buffer
every step grows quadratically (tests/test_spyx_core_fused.py checks the compiled loops for such
copies). Prints milliseconds, the median of ``--repeats`` calls after a compiled warm-up; run it on
a quiet machine, with ``PYTHONPATH`` naming the checkout to measure.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

import spyx_core
from spyx_core._fused import membrane_sequence, spike_sequence

SPIKE = spyx_core.surrogate("superspike", 25.0)
THETA = 1.0


def _median_ms(program, arguments: tuple, repeats: int) -> float:
    jax.block_until_ready(program(*arguments))  # compiled and run once, untimed
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(program(*arguments))
        seconds.append(time.perf_counter() - start)
    return 1e3 * float(np.median(seconds))


def _programs(operation: str, v0: jax.Array, trained: bool):
    def run(x, beta):
        if operation == "membrane":
            return membrane_sequence(x, v0, beta=beta, theta=THETA)[0]
        return spike_sequence(x, v0, beta=beta, theta=THETA, spike_fn=SPIKE)[0]

    def gradient(x, beta, g):
        if trained:
            return jax.vjp(run, x, beta)[1](g)
        return jax.vjp(lambda x: run(x, beta), x)[1](g)

    return jax.jit(run), jax.jit(gradient)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--neurons", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    v0, beta = jnp.zeros((args.batch, args.neurons)), jnp.full((args.neurons,), 0.9)
    print("operation decay    T  forward ms  vjp ms")
    for steps in args.steps:
        shape = (steps, args.batch, args.neurons)
        x, g = (jnp.asarray(rng.standard_normal(shape, np.float32)) for _ in range(2))
        for operation in ("membrane", "spikes"):
            for trained in (True, False):
                forward, gradient = _programs(operation, v0, trained)
                fwd = _median_ms(forward, (x, beta), args.repeats)
                vjp = _median_ms(gradient, (x, beta, g), args.repeats)
                decay = "trained" if trained else "fixed"
                print(f"{operation:9} {decay:7} {steps:4} {fwd:10.1f} {vjp:7.1f}", flush=True)


if __name__ == "__main__":
    main()
