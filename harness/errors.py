"""The one error type the CLI reports as a single line (exit status 2) instead of a traceback."""


class SpikebenchError(Exception):
    """A problem the user can fix (bad input, missing data, unknown name); the message says how."""


class InvalidConfiguration(SpikebenchError, ValueError):
    """A cell or grid asks for something impossible (a size below 1, too few samples for a batch)."""


class InvalidGraph(SpikebenchError, ValueError):
    """A NIR graph is malformed or outside what spikebench runs; the message names the node."""
