"""``spikebench frameworks``: the registered framework adapters and their versions."""

from __future__ import annotations

import argparse

import frameworks

HELP = "list the registered framework adapters"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options."""


def run(args: argparse.Namespace) -> int:
    for name in frameworks.names():
        try:
            adapter = frameworks.load(name)
        except frameworks.FrameworkUnavailable as error:
            print(f"{name:12s} unavailable: {error}")
            continue
        versions = ", ".join(f"{k} {v}" for k, v in adapter.versions().items())
        print(f"{name:12s} {versions}")
    return 0
