"""``spikebench``: the command line. Subcommands live in ``harness.commands``.

Every error a user can fix, from any layer, prints as one line and exits with status 2: a
``SpikebenchError`` (dataset errors among them), ``frameworks.UnknownFramework``,
``frameworks.FrameworkUnavailable``, ``frameworks.Unsupported`` and NIR's ``NIRGraphError``. The
subcommands let them propagate; ``main`` is the one place that translates them.
"""

from __future__ import annotations

import argparse
import sys

import frameworks
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


def user_errors() -> tuple[type[BaseException], ...]:
    """The library errors ``main`` prints as one line (exit 2).

    Evaluated only when an exception reaches ``main``: NIR's error type loads JAX and the ``nir``
    package, which a command that never touched NIR should not pay for.
    """
    errors = (
        SpikebenchError,
        frameworks.UnknownFramework,
        frameworks.FrameworkUnavailable,
        frameworks.Unsupported,
    )
    try:
        from spyx_core.nir import NIRGraphError
    except ImportError:  # without the nir extra no NIR graph was read, so none is malformed
        return errors
    return (*errors, NIRGraphError)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``spikebench`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("spikebench: interrupted; finished cells are saved", file=sys.stderr)
        return 130
    except Exception as error:
        if not isinstance(error, user_errors()):
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"spikebench: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
