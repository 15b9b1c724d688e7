"""``spikebench nir``: export a network as a NIR graph, and check a graph in every framework.

``nir export --framework F --task shd|nmnist [--weights FILE] --out model.nir`` writes the
canonical network through framework F's own NIR exporter (seeded initial weights unless
``--weights`` names a file from ``frameworks.checkpoint.save_weights``; ``--channels``/``--hidden``
size the SHD network, ``--width``/``--input-size`` the N-MNIST one). ``nir check model.nir`` loads
the graph into every framework that can, runs the same input and prints, per framework, whether it
loaded and how far its spikes and readout lie from the exporting framework's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from frameworks.adapter import Unsupported
from frameworks.checkpoint import load_weights
from frameworks.nir import support, supported
from frameworks.spec import NMNIST_INPUT, init_weights, nmnist_spec, shd_spec
from harness.commands._common import positive, rate
from harness.errors import InvalidGraph, SpikebenchError

# NIR, JAX and the torch frameworks load only when a nir command runs (nir is an optional extra).

HELP = "export a network as a NIR graph, or check a graph in every framework"
TASKS = ("shd", "nmnist")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="nir_command", required=True)
    export = sub.add_parser("export", help="write a network as a NIR graph")
    export.add_argument(
        "--framework", required=True, help="a framework with NIR support (nir check lists them)"
    )
    export.add_argument("--task", default="shd", choices=TASKS, help="network (default shd)")
    export.add_argument("--weights", type=Path, help="a weights file (default: seeded init, seed 0)")
    export.add_argument("--channels", type=positive, default=128, help="input channels (no --weights)")
    export.add_argument("--hidden", type=positive, default=128, help="hidden neurons (no --weights)")
    export.add_argument(
        "--width", type=positive, default=1, help="N-MNIST channel multiplier m (no --weights)"
    )
    export.add_argument(
        "--input-size",
        type=positive,
        default=NMNIST_INPUT[-1],
        help=f"N-MNIST input height = width, at least 16 (default {NMNIST_INPUT[-1]}; no --weights)",
    )
    export.add_argument("--out", type=Path, required=True, help="the .nir file to write")
    check = sub.add_parser("check", help="load a NIR graph into every framework and compare")
    check.add_argument("graph", type=Path, help="a .nir file")
    check.add_argument("--batch", type=positive, default=8, help="samples (default 8)")
    check.add_argument("--time-steps", type=positive, help="steps (default: the graph's spec)")
    check.add_argument("--rate", type=rate, help="input spike probability (default 0.5)")
    check.add_argument("--seed", type=int, default=0, help="seed of the random input")


def _spec(args: argparse.Namespace):
    if args.task == "shd":
        return shd_spec(channels=args.channels, hidden=args.hidden)
    shape = (NMNIST_INPUT[0], args.input_size, args.input_size)
    try:
        return nmnist_spec(width=args.width, input_shape=shape)
    except ValueError as error:  # an input too small for two 5x5 convolutions and pools
        raise SpikebenchError(f"--input-size {args.input_size}: {error}") from None


def _network(args: argparse.Namespace):
    if args.weights is None:
        spec = _spec(args)
        return spec, init_weights(spec, seed=0)
    try:
        spec, weights = load_weights(args.weights)
    except (OSError, ValueError) as error:
        raise SpikebenchError(str(error)) from None
    if spec.task != args.task:
        raise SpikebenchError(f"{args.weights} holds a {spec.task} network, not {args.task}")
    return spec, weights


def export(args: argparse.Namespace) -> int:
    """``nir export``: writes the graph and says where."""
    known = supported()
    if args.framework not in known:
        listed = ", ".join(known)
        raise SpikebenchError(f"unknown framework {args.framework!r}; NIR export supports: {listed}")
    spec, weights = _network(args)
    try:
        graph = support(args.framework).export(spec, weights)
    except Unsupported as error:
        raise SpikebenchError(str(error)) from None
    from frameworks.nir.io import write_graph

    write_graph(args.out, graph)
    print(f"wrote {args.out}: {args.task} network via {args.framework}", file=sys.stderr)
    return 0


def check(args: argparse.Namespace) -> int:
    """``nir check``: prints the comparison table; 1 when an exact import is out of tolerance."""
    from frameworks.nir.check import check_graph, format_report
    from frameworks.nir.io import read_graph
    from spyx_core.nir import NIRGraphError

    try:
        rate = {} if args.rate is None else {"rate": args.rate}  # default: nir.check's DEFAULT_RATE
        graph = read_graph(args.graph)
        report = check_graph(graph, batch=args.batch, seed=args.seed, time_steps=args.time_steps, **rate)
    except NIRGraphError as error:
        raise InvalidGraph(f"{args.graph}: {error}") from None
    except Unsupported as error:
        raise SpikebenchError(str(error)) from None
    print(format_report(report, str(args.graph)))
    return 0 if report.ok else 1


def run(args: argparse.Namespace) -> int:
    return export(args) if args.nir_command == "export" else check(args)
