"""The device's limits, measured in JAX: its float32 matmul peak and each synaptic op's time alone.

``python -m harness.floor REQUEST.json OUT.json`` is the dedicated worker the runner starts after
its cells (``harness.limits``): it measures, on the request's device,

- the **peak**: a ``size x size`` float32 matmul at precision ``highest`` (no TF32 or bf16
  passes), jitted and compiled ahead of time; FLOP/s = ``2 size^3`` over its median seconds;
- each **synaptic op** (``frameworks.flops.SynapticOp``) at its real shape and with its real
  contraction (``x @ W``, ``x^T @ dy``, ``dy @ W^T``; a convolution and the two gradients JAX's
  autodiff derives from it), on random operands resident on the device, at the same precision.

Each is timed as ``seconds_per_call`` says: compiled apart, one warm-up call, then ``repeats``
samples of back-to-back calls closed by one device synchronisation, median. Calls run back to back
because inside a training step the ops follow one another without waiting for the host; one
synchronisation per call would add a host round trip per op to the floor.

Each synaptic op is timed twice (``TIMINGS``): **fresh**, every call writing a new output buffer
(``seconds_per_call``), and **warm**, every call writing into the previous call's output, donated
(``warm_seconds_per_call``). On the CPU, XLA maps each large new buffer freshly, so a fresh call
pays the page faults of zero-filling its output, which a compiled epoch pays once per epoch call
for all its steps; the warm time is the arithmetic and the operands' memory traffic alone.
"""

from __future__ import annotations

import functools
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

import spyx_core
from frameworks.flops import SynapticOp
from frameworks.jax_base import MATMUL_PRECISION
from harness.limits import FRESH, PEAK_SIZE, REPEATS, WARM

MIN_SAMPLE_S = 2e-3
"""A sample runs enough back-to-back calls to last about this long, so that the clock's resolution
and the one synchronisation stay small beside it (1 call for anything slower)."""
MAX_CALLS = 1000


def fresh_call(function: Callable, args: tuple) -> Callable[[], Any]:
    """``function(*args)`` compiled apart, as a call without arguments: each returns a new output."""
    with jax.default_matmul_precision(MATMUL_PRECISION):
        compiled = jax.jit(function).lower(*args).compile()
    return lambda: compiled(*args)


def warm_call(function: Callable, args: tuple) -> Callable[[], Any]:
    """``function(*args)`` compiled apart, as a call without arguments that writes into the
    previous call's output, donated and already mapped (module docstring)."""

    def into(previous: Any, *args: Any) -> Any:
        # a dynamic update of the donated buffer: XLA writes the result into it in place
        return jax.tree.map(lambda old, new: jax.lax.dynamic_update_slice(old, new, (0,) * new.ndim),
                            previous, function(*args))  # fmt: skip

    first = fresh_call(function, args)()
    with jax.default_matmul_precision(MATMUL_PRECISION):
        compiled = jax.jit(into, donate_argnums=0).lower(first, *args).compile()
    held = {"output": first}

    def call() -> Any:
        held["output"] = compiled(held["output"], *args)
        return held["output"]

    return call


def median_seconds(call: Callable[[], Any], *, repeats: int = REPEATS) -> float:
    """Median seconds of one ``call()``: one warm-up call, then ``repeats`` samples of back-to-back
    calls closed by one wait for every output still alive (a warm call's earlier outputs were
    donated to the next; the last depends on them all)."""
    jax.block_until_ready(call())  # the warm-up: first-call costs stay out of the samples
    start = time.perf_counter()
    jax.block_until_ready(call())
    once = time.perf_counter() - start
    calls = max(1, min(MAX_CALLS, math.ceil(MIN_SAMPLE_S / max(once, 1e-9))))
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        outputs = [call() for _ in range(calls)]
        jax.block_until_ready([x for x in jax.tree.leaves(outputs) if not x.is_deleted()])
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def seconds_per_call(function: Callable, args: tuple, *, repeats: int = REPEATS) -> float:
    """Median seconds of one fresh call of ``function(*args)`` (module docstring)."""
    return median_seconds(fresh_call(function, args), repeats=repeats)


def warm_seconds_per_call(function: Callable, args: tuple, *, repeats: int = REPEATS) -> float:
    """Median seconds of one warm call of ``function(*args)`` (module docstring)."""
    return median_seconds(warm_call(function, args), repeats=repeats)


TIMINGS: dict[str, Callable[..., float]] = {FRESH: seconds_per_call, WARM: warm_seconds_per_call}
"""The limits' key of each op timing -> how it times one call (module docstring)."""


def _matmul_program(op: SynapticOp) -> tuple[Callable, list[tuple[int, ...]]]:
    m, k, n = op.shape
    programs = {
        "forward": (lambda x, w: x @ w, [(m, k), (k, n)]),
        "weight_grad": (lambda x, dy: jnp.einsum("mk,mn->kn", x, dy), [(m, k), (m, n)]),
        "input_grad": (lambda dy, w: jnp.einsum("mn,kn->mk", dy, w), [(m, n), (k, n)]),
    }
    return programs[op.role]


CONV_FORMS = ("xla", "pieces")
"""The forms of a convolution the floor times, the fastest counting (``spyx_core.conv2d``'s
``impl``): XLA's own on all frames at once (the fastest on GPUs), and on pieces of a few frames
(several times faster on the CPU; docs/cpu-performance.md)."""


def conv_program(op: SynapticOp, form: str) -> tuple[Callable, list[tuple[int, ...]]]:
    """The convolution ``op`` as one JAX function in ``form`` (``spyx_core.conv2d``'s ``impl``)
    and its operands' shapes."""
    frames, channels, height, width, out, size = op.shape
    conv = functools.partial(spyx_core.conv2d, impl=form)
    x, w = (frames, channels, height, width), (out, channels, size, size)
    y = (frames, out, height - size + 1, width - size + 1)

    def weight_grad(x, dy):
        return jax.vjp(lambda kernel: conv(x, kernel), jnp.zeros(w, jnp.float32))[1](dy)[0]

    def input_grad(w, dy):
        return jax.vjp(lambda inputs: conv(inputs, w), jnp.zeros(x, jnp.float32))[1](dy)[0]

    programs = {"forward": (conv, [x, w]), "weight_grad": (weight_grad, [x, y]),
                "input_grad": (input_grad, [w, y])}  # fmt: skip
    return programs[op.role]


Program = tuple[Callable, list[tuple[int, ...]]]
PROGRAMS: dict[str, Callable[[SynapticOp], list[Program]]] = {
    "matmul": lambda op: [_matmul_program(op)],
    "conv": lambda op: [conv_program(op, form) for form in CONV_FORMS],
}
"""Op kind -> ``programs(op) -> [(function, operand shapes), ...]``: the op as one JAX function,
in each form the floor tries."""


def op_programs(op: SynapticOp) -> list[Program]:
    """Every JAX function the floor times for ``op`` (one call each) and its operands' shapes."""
    return PROGRAMS[op.kind](op)


def operands(shapes: list[tuple[int, ...]], device: jax.Device, seed: int = 0) -> tuple:
    """Standard normal float32 operands of ``shapes`` on ``device``, drawn by NumPy (drawing them
    with ``jax.random`` would compile a program per shape)."""
    rng = np.random.default_rng(seed)
    return tuple(jax.device_put(rng.standard_normal(shape, np.float32), device) for shape in shapes)


def op_seconds(
    op: SynapticOp,
    device: jax.Device,
    *,
    repeats: int = REPEATS,
    timing: Callable[..., float] = seconds_per_call,
) -> float:
    """Median seconds of one call of ``op`` alone on ``device`` as ``timing`` times it (one of
    ``TIMINGS``), in the fastest of its forms."""
    return min(
        timing(function, operands(shapes, device), repeats=repeats)
        for function, shapes in op_programs(op)
    )


def peak_flops_per_s(device: jax.Device, *, size: int = PEAK_SIZE, repeats: int = REPEATS) -> float:
    """The float32 ``size x size`` matmul rate of ``device`` (module docstring)."""
    args = operands([(size, size), (size, size)], device)
    return 2 * size**3 / seconds_per_call(lambda a, b: a @ b, args, repeats=repeats)


def device_of(kind: str) -> jax.Device:
    """JAX's first ``kind`` device (cpu, gpu, tpu)."""
    return jax.devices(kind)[0]


def measure(request: dict[str, Any]) -> dict[str, Any]:
    """What ``request`` asks for, measured on its device.

    Args:
        request: ``{"device": "cpu", "peak_size": int or None (no peak), "repeats": int,
            "ops": [SynapticOp.to_dict(), ...]}``.

    Returns:
        ``{"device_name", "peak_size", "peak_flops_per_s" (None when not asked), "op_seconds":
        {op key: seconds per call}, "op_seconds_warm": {op key: seconds per warm call}}``.
    """
    device = device_of(request["device"])
    repeats = request.get("repeats", REPEATS)
    size = request.get("peak_size")
    peak = peak_flops_per_s(device, size=size, repeats=repeats) if size else None
    ops = {op.key(): op for op in map(SynapticOp.from_dict, request.get("ops", []))}
    timed = {
        name: {key: op_seconds(op, device, repeats=repeats, timing=timing) for key, op in ops.items()}
        for name, timing in TIMINGS.items()
    }
    return {"device_name": f"{device.platform}: {device.device_kind}", "peak_size": size,
            "peak_flops_per_s": peak, **timed}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    request_path, out_path = argv if argv is not None else sys.argv[1:]
    measured = measure(json.loads(Path(request_path).read_text()))
    Path(out_path).write_text(json.dumps(measured))
    return 0


if __name__ == "__main__":
    sys.exit(main())
