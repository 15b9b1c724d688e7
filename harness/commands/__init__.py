"""One module per subcommand, each with ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.

Adding a subcommand is one module here plus one entry in ``COMMANDS``.
"""

from harness.commands import frameworks, report, reproduce, run

COMMANDS = {
    "run": run,
    "reproduce": reproduce,
    "report": report,
    "frameworks": frameworks,
}
