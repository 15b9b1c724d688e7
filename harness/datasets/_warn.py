"""The default ``warn``: one line on stderr."""

from __future__ import annotations

import sys


def warn_stderr(message: str) -> None:
    """Prints ``spikebench: warning: <message>`` to stderr."""
    print(f"spikebench: warning: {message}", file=sys.stderr)
