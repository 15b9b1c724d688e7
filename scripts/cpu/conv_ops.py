"""Each convolution of the N-MNIST net's training step, timed alone in every form.

For ``nmnist_spec(width=m)`` at batch ``B`` and its ``T`` steps, every convolution op of one step
(``frameworks.flops.synaptic_ops``: forward, weight gradient, input gradient) on its real shape,

* in JAX, on all ``B * T`` frames at once as a layer-at-a-time network runs it, in each of
  ``spyx_core.conv2d``'s forms (``xla``, ``pieces``, ``hybrid``, ``patches``), timed as the dense
  floor times ops (``harness.floor.conv_program``, ``seconds_per_call``);
* in torch (oneDNN), on ``B`` frames ``T`` times, as snnTorch steps it through time (a
  gradient's seconds without its forward's).

Prints a table (milliseconds per step) and writes it as CSV to ``--out``; docs/cpu-performance.md
reads it. Run it on a quiet machine.
Usage: python scripts/cpu/conv_ops.py [--width 1] [--batch-size 32] [--out FILE.csv]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import torch

from frameworks.flops import SynapticOp, synaptic_ops
from frameworks.jax_base import MATMUL_PRECISION
from frameworks.spec import nmnist_spec
from harness.floor import conv_program, operands, seconds_per_call

JAX_FORMS = ("xla", "pieces", "hybrid", "patches")


def _torch_seconds(op: SynapticOp, steps: int, repeats: int = 5) -> float:
    """One step's ``steps`` calls of ``op`` on ``frames / steps`` frames each, as snnTorch runs it.
    A gradient needs its forward in autograd: its seconds are those of forward and gradient, less
    those of the forward alone."""
    if op.role != "forward":
        forward = SynapticOp(op.layer, "forward", op.kind, op.shape, op.repeats)
        return _torch_calls(op, steps, repeats) - _torch_calls(forward, steps, repeats)
    return _torch_calls(op, steps, repeats)


def _torch_calls(op: SynapticOp, steps: int, repeats: int) -> float:
    frames, channels, height, width, out, size = op.shape
    x = torch.randn(frames // steps, channels, height, width, requires_grad=op.role == "input_grad")
    w = torch.randn(out, channels, size, size, requires_grad=op.role == "weight_grad")
    y = torch.nn.functional.conv2d(x.detach(), w.detach())
    dy = torch.randn_like(y)
    wrt = {"weight_grad": w, "input_grad": x}.get(op.role)

    def call():
        for _ in range(steps):
            if wrt is None:
                with torch.no_grad():
                    torch.nn.functional.conv2d(x, w)
            else:  # the forward is part of the call: autograd needs it
                torch.autograd.grad(torch.nn.functional.conv2d(x, w), wrt, dy)

    call()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return float(np.median(samples))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    spec = nmnist_spec(width=args.width)
    device = jax.devices("cpu")[0]
    rows = []
    with jax.default_matmul_precision(MATMUL_PRECISION):
        for op in (op for op in synaptic_ops(spec, args.batch_size) if op.kind == "conv"):
            row = {"op": f"conv {op.layer} {op.role}", "frames": op.shape[0], "GFLOP": op.flops / 1e9}
            for form in JAX_FORMS:
                function, shapes = conv_program(op, form)
                row[f"jax {form} ms"] = 1e3 * seconds_per_call(function, operands(shapes, device))
            row["torch (T calls) ms"] = 1e3 * _torch_seconds(op, spec.time_steps)
            rows.append(row)
            print(row, flush=True)
    table = pd.DataFrame(rows)
    total = table.select_dtypes("number").sum().to_dict() | {"op": "step total", "frames": None}
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    print(table.round(1).to_markdown(index=False))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
