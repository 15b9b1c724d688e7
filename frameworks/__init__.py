"""Framework adapters, found through the ``spikebench.frameworks`` entry-point group.

``names()`` lists the registered adapters; ``load(name)`` instantiates one. Adding a framework is
one module implementing ``frameworks.adapter.Adapter`` plus one entry-point line.
"""

from __future__ import annotations

from importlib import metadata

from frameworks._order import epoch_order as epoch_order
from frameworks.adapter import Adapter as Adapter
from frameworks.adapter import EpochResult as EpochResult
from frameworks.adapter import Session as Session
from frameworks.adapter import SpikeData as SpikeData
from frameworks.adapter import Unsupported as Unsupported
from frameworks.spec import ModelSpec as ModelSpec
from frameworks.spec import init_weights as init_weights
from frameworks.spec import shd_spec as shd_spec

GROUP = "spikebench.frameworks"


class UnknownFramework(KeyError):
    """No adapter is registered under this name."""

    def __str__(self) -> str:
        return str(self.args[0])


class FrameworkUnavailable(RuntimeError):
    """The adapter is registered but its framework does not import here."""


def _entry_points() -> dict[str, metadata.EntryPoint]:
    return {ep.name: ep for ep in metadata.entry_points(group=GROUP)}


def names() -> list[str]:
    """Every registered adapter name, sorted."""
    return sorted(_entry_points())


def load(name: str) -> Adapter:
    """Instantiates the adapter registered as ``name``.

    Raises:
        UnknownFramework: nothing is registered under ``name`` (the message lists what is).
        FrameworkUnavailable: the framework's package fails to import.
    """
    points = _entry_points()
    if name not in points:
        known = ", ".join(sorted(points)) or "none (is spikebench installed?)"
        raise UnknownFramework(f"unknown framework {name!r}; registered: {known}")
    try:
        factory = points[name].load()
    except Exception as error:  # an optional framework may fail to import in many ways
        raise FrameworkUnavailable(f"{name} is registered but does not import: {error}") from error
    return factory()


__all__ = [
    "GROUP",
    "Adapter",
    "EpochResult",
    "FrameworkUnavailable",
    "ModelSpec",
    "Session",
    "SpikeData",
    "UnknownFramework",
    "Unsupported",
    "epoch_order",
    "init_weights",
    "load",
    "names",
    "shd_spec",
]
