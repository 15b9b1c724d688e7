"""One module per subcommand, each with ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.

Adding a subcommand is one module here plus one entry in ``COMMANDS``.
"""

from harness.commands import (
    check_adapter,
    compare,
    frameworks,
    nir,
    report,
    reproduce,
    run,
    train,
)

COMMANDS = {
    "run": run,
    "reproduce": reproduce,
    "report": report,
    "compare": compare,
    "frameworks": frameworks,
    "check-adapter": check_adapter,
    "train": train,
    "nir": nir,
}
