"""``spikebench``: the command line. Subcommands live in ``harness.commands``.

A ``SpikebenchError`` (bad input the user can fix) prints as one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys

from harness.commands import COMMANDS
from harness.errors import SpikebenchError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spikebench",
        description="Train the same spiking network in several frameworks and time them.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        sub = subparsers.add_parser(name, help=command.HELP, description=command.__doc__)
        command.add_arguments(sub)
        sub.set_defaults(handler=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spikebench`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except SpikebenchError as error:
        print(f"spikebench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("spikebench: interrupted; finished cells are saved", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
