"""Could an exact sparse projection of binary spikes beat the dense matmul on this CPU? A probe.

For a binary input ``x [M, K]`` (M = B*T rows, spike rate ``r``) and weights ``W [K, N]`` it
times, interleaved and on the same operands:

* ``dense x @ W`` and ``dense x^T @ dy``: JAX float32 matmuls at precision ``highest``, each
  product written into an already-mapped donated buffer (no page faults in the timing);
* ``gather x @ W``: for every row, the sum of the rows of ``W`` at its active inputs, in order
  (an exact sum of the same products, summed in another order);
* ``scatter x^T @ dy``: every row of ``dy`` added to the rows of ``dW`` at its active inputs,
  one partial ``dW`` per thread, summed at the end.

Both sparse kernels are Numba (``prange`` over two threads) on the CSR form of ``x``, built beforehand
(its cost is not timed: a real path would build it from the bit-packed spikes). Prints one line per
shape; docs/shd-floor.md says what it found. Needs numba (not a spikebench dependency).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numba
import numpy as np


@numba.njit(parallel=True)
def gather_sum(indptr, columns, weights, out):  # pragma: no cover - compiled by numba
    for row in numba.prange(out.shape[0]):
        acc = np.zeros(weights.shape[1], np.float32)
        for j in range(indptr[row], indptr[row + 1]):
            acc += weights[columns[j]]
        out[row] = acc


@numba.njit(parallel=True)
def scatter_add(indptr, columns, grads, partial):  # pragma: no cover - compiled by numba
    parts, rows = partial.shape[0], grads.shape[0]
    chunk = (rows + parts - 1) // parts
    for part in numba.prange(parts):
        partial[part] = 0.0
        for row in range(part * chunk, min(rows, (part + 1) * chunk)):
            for j in range(indptr[row], indptr[row + 1]):
                partial[part, columns[j]] += grads[row]


def _dense(a: jax.Array, b: jax.Array, dims: tuple, out_shape: tuple):
    product = jax.jit(
        lambda a, b, out: jax.lax.dynamic_update_slice(
            out, jax.lax.dot_general(a, b, (dims, ((), ())), precision="highest"), (0, 0)
        ),
        donate_argnums=2,
    )
    held = {"out": product(a, b, jnp.zeros(out_shape, jnp.float32))}

    def call() -> None:
        held["out"] = product(a, b, held["out"])
        held["out"].block_until_ready()

    return call


def probe(rows: int, inputs: int, outputs: int, rate: float, repeats: int) -> dict[str, float]:
    """Minimum seconds of each of the four calls (module docstring) at one shape and rate."""
    rng = np.random.default_rng(0)
    x = rng.random((rows, inputs)) < rate
    weights = rng.standard_normal((inputs, outputs), np.float32)
    grads = rng.standard_normal((rows, outputs), np.float32)
    active_rows, columns = np.nonzero(x)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(active_rows, minlength=rows))])
    columns = columns.astype(np.int32)
    out = np.empty((rows, outputs), np.float32)
    partial = np.empty((numba.get_num_threads(), inputs, outputs), np.float32)
    xf, wj, gj = jnp.asarray(x, jnp.float32), jnp.asarray(weights), jnp.asarray(grads)
    calls = {
        "dense x@W": _dense(xf, wj, ((1,), (0,)), (rows, outputs)),
        "gather x@W": lambda: gather_sum(indptr, columns, weights, out),
        "dense x^T@dy": _dense(xf, gj, ((0,), (0,)), (inputs, outputs)),
        "scatter x^T@dy": lambda: scatter_add(indptr, columns, grads, partial),
    }
    for call in calls.values():
        call()
    np.testing.assert_allclose(out, x.astype(np.float32) @ weights, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(partial.sum(0), x.astype(np.float32).T @ grads, rtol=1e-3, atol=1e-2)
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=256 * 256, help="B*T")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    # the SHD net's projections of spikes: the input layer (C=128, rate ~5%), the hidden layer
    # (H inputs, 1-20%), at H=128 and 512
    cases = [(128, h, 0.05) for h in (128, 512)]
    cases += [(h, h, rate) for h in (128, 512) for rate in (0.01, 0.05, 0.2)]
    for inputs, outputs, rate in cases:
        best = probe(args.rows, inputs, outputs, rate, args.repeats)
        timings = "  ".join(f"{name} {seconds * 1e3:7.2f} ms" for name, seconds in best.items())
        print(f"K={inputs:4d} N={outputs:4d} rate={rate:.2f}  {timings}", flush=True)


if __name__ == "__main__":
    main()
