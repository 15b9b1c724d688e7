"""The error a NIR graph that spyx_core cannot read raises: it names the offending node."""

from __future__ import annotations


class NIRGraphError(ValueError):
    """A NIR graph is malformed or outside what spyx_core runs.

    Attributes:
        node: the name of the offending node, or None when the problem is the whole graph.
    """

    def __init__(self, node: str | None, message: str):
        self.node = node
        super().__init__(message if node is None else f"node {node!r}: {message}")
