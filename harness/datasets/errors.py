"""The dataset errors: each is a ``SpikebenchError`` (one line from the CLI) and a matching builtin."""

from __future__ import annotations

from harness.errors import SpikebenchError


class DatasetMissing(SpikebenchError, FileNotFoundError):
    """The real dataset's files are not where they are expected; the message lists them."""


class DatasetCorrupt(SpikebenchError, ValueError):
    """The real dataset's files exist but cannot be used (truncated, wrong layout, bad values)."""


class DataRequestError(SpikebenchError, ValueError):
    """The request itself is invalid (unknown task, split or source, bad sizes)."""
