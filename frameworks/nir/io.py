"""NIR files on disk: an atomic write, and a read whose errors name the node at fault.

``nir.read`` builds every node in one go, so a bad node surfaces as a bare ``AssertionError`` (an
unknown type, parameters of different shapes) with no name. ``read_graph`` builds the nodes one by
one and reports which one failed; it leaves type checking to ``spyx_core.nir.chain``/``from_nir``,
whose messages name the node as well.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import h5py
import nir
from nir.serialization import hdf2dict

from spyx_core.nir import NIRGraphError, as_str


def write_graph(path: str | os.PathLike, graph: nir.NIRGraph) -> None:
    """Writes ``graph`` to ``path`` (NIR's HDF5 format, gzip) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".nir")
    os.close(fd)
    try:
        nir.write(tmp, graph)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _node(name: str, data: dict[str, Any]) -> nir.NIRNode:
    kind = as_str(data.get("type", "?"))
    if not isinstance(getattr(nir, kind, None), type) or not issubclass(getattr(nir, kind), nir.NIRNode):
        raise NIRGraphError(name, f"unknown node type {kind!r} (not a NIR {nir.version} node)")
    try:
        return nir.dict2NIRNode(data)
    except (AssertionError, TypeError, ValueError, KeyError) as error:
        reason = str(error) or "inconsistent fields"
        raise NIRGraphError(name, f"{kind} node cannot be built: {reason}") from None


def read_graph(path: str | os.PathLike) -> nir.NIRGraph:
    """Reads a NIR file without type checking (the readers check, naming the node).

    Raises:
        NIRGraphError: the file is not a NIR graph, or one of its nodes cannot be built.
    """
    try:
        with h5py.File(path, "r") as handle:
            data = hdf2dict(handle["node"])
    except (OSError, KeyError) as error:
        raise NIRGraphError(None, f"{path} is not a NIR file ({error})") from None
    if as_str(data.get("type")) != "NIRGraph":
        raise NIRGraphError(None, f"{path} holds a single {as_str(data.get('type'))} node, not a graph")
    nodes = {str(name): _node(str(name), node) for name, node in data.get("nodes", {}).items()}
    edges = [(as_str(a), as_str(b)) for a, b in data.get("edges", [])]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=data.get("metadata", {}), type_check=False)
