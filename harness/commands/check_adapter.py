"""``spikebench check-adapter NAME``: run the adapter conformance suite on one adapter.

Prints one line per check (pass, FAIL, or ``measured`` for a declared deviation, with the relative
error against spyx_core) and exits 0 when every check passes, 1 otherwise. See
frameworks/conformance/__init__.py for the checks.
"""

from __future__ import annotations

import argparse

import frameworks
from frameworks import conformance
from harness.commands import _common

HELP = "run the conformance suite on one framework adapter"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("name", help="a registered adapter, or name@variant")
    _common.add_device(parser, auto=False)
    add(
        "--task",
        action="append",
        choices=sorted(conformance.TASKS),
        help="conformance task (repeatable; default: all)",
    )


def run(args: argparse.Namespace) -> int:
    """Prints the report; 1 when a check fails or the framework does not import (a verdict)."""
    try:
        adapter = frameworks.load(args.name)
    except frameworks.FrameworkUnavailable as error:
        print(f"{args.name}: FAIL: unavailable: {error}")
        return 1
    tasks = tuple(args.task) if args.task else None
    report = conformance.run(adapter, device=args.device, tasks=tasks)
    print(report)
    return 0 if report.ok else 1
