"""``spikebench frameworks``: the registered adapters, their versions, devices and conformance.

One line per adapter: its package versions, the devices it runs on here, whether it computes the
canonical model exactly (or how it differs), and, with ``--check``, the outcome of the conformance
suite (``spikebench check-adapter NAME`` shows the detail).
"""

from __future__ import annotations

import argparse

import frameworks
from frameworks import conformance
from frameworks.adapter import Adapter

HELP = "list the registered framework adapters (versions, devices, conformance)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check",
        action="store_true",
        help="also run the conformance suite on each adapter (seconds each; torch_compile ~30 s)",
    )


def describe(name: str, *, check: bool) -> str:
    """The line of one adapter (module docstring)."""
    try:
        adapter = frameworks.load(name)
    except frameworks.FrameworkUnavailable as error:
        return f"{name:14s} unavailable: {error}"
    versions = ", ".join(f"{k} {v}" for k, v in adapter.versions().items())
    model = "exact" if adapter.exact else "inexact: " + adapter.semantics
    parts = [f"{name:14s} {versions}", f"devices: {_devices(adapter)}", model]
    parts.append(f"conformance: {_conformance(adapter) if check else 'not run (--check)'}")
    return " | ".join(parts)


def _conformance(adapter: Adapter) -> str:
    report = conformance.run(adapter)
    failed = [c.name for c in report.checks if not c.ok]
    verdict = "pass" if report.ok else f"FAIL ({', '.join(failed)})"
    if report.deviation is None:
        return verdict
    return f"{verdict}, max deviation from {conformance.REFERENCE} {report.deviation:.2g}"


def _devices(adapter: Adapter) -> str:
    try:
        found = conformance.supported_devices(adapter)
    except Exception as error:  # a broken adapter still gets its line
        return f"error ({type(error).__name__}: {error})"
    usable = [d for d, n in found.items() if not n.startswith("unsupported")]
    return ", ".join(usable) or "none"


def run(args: argparse.Namespace) -> int:
    for name in frameworks.names():
        print(describe(name, check=args.check), flush=True)
    return 0
