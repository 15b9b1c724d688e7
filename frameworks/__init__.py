"""Framework adapters, found through the ``spikebench.frameworks`` entry-point group.

``names()`` lists the registered adapters; ``load(name)`` instantiates one. Adding a framework is
one module implementing ``frameworks.adapter.Adapter`` plus one entry-point line.
"""

from __future__ import annotations

from importlib import metadata

from frameworks.adapter import Adapter as Adapter
from frameworks.adapter import AdapterBase as AdapterBase
from frameworks.adapter import EpochResult as EpochResult
from frameworks.adapter import Session as Session
from frameworks.adapter import SpikeData as SpikeData
from frameworks.adapter import Unsupported as Unsupported
from frameworks.order import epoch_order as epoch_order
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


def _factory(base: str):
    points = _entry_points()
    if base not in points:
        known = ", ".join(sorted(points)) or "none (is spikebench installed?)"
        raise UnknownFramework(f"unknown framework {base!r}; registered: {known}")
    try:
        return points[base].load()
    except Exception as error:  # an optional framework may fail to import in many ways
        raise FrameworkUnavailable(f"{base} is registered but does not import: {error}") from error


SLOW_TO_COMPILE = ("torch_compile",)
"""Adapters left out of default selections: torch.compile alone takes ~45 s on 2 CPU cores
(``torch_compile`` is ``torch_plain@compile``; variants are never in a default selection)."""
ALIASES = {"torch_compile": "torch_plain@compile"}
"""Former names -> what they run now (the report pairs a compiled row with its eager framework)."""


def available(*, exact_only: bool = False, include_slow: bool = False) -> list[str]:
    """Registered adapters that import here (optionally only those computing the canonical model
    exactly, and optionally with the slow-to-compile ones)."""
    found = []
    for name in names():
        if name in SLOW_TO_COMPILE and not include_slow:
            continue
        try:
            adapter = load(name)
        except FrameworkUnavailable:
            continue
        if not exact_only or adapter.exact:
            found.append(name)
    return found


def validate(name: str) -> None:
    """Checks that ``name`` (or ``name@variant``) is registered, without building the adapter.

    Raises:
        UnknownFramework: as ``load``. A framework that does not import passes: its cells are
            recorded as skipped by the worker.
    """
    base, _, variant = name.partition("@")
    if base not in _entry_points():
        _factory(base)  # raises UnknownFramework with the list of names
    if variant:
        try:
            factory = _factory(base)
        except FrameworkUnavailable:
            return
        if variant not in factory.VARIANTS:
            load(name)  # raises UnknownFramework listing the variants


def load(name: str) -> Adapter:
    """Instantiates the adapter ``name``, or one of its variants as ``"name@variant"``.

    An adapter class may offer variants (other implementations of the same model, e.g.
    ``spyx_core@scan``) in a ``VARIANTS`` dict of constructor keyword arguments.

    Raises:
        UnknownFramework: nothing is registered under the name, or no such variant.
        FrameworkUnavailable: the framework's package fails to import.
    """
    base, _, variant = name.partition("@")
    factory = _factory(base)
    if not variant:
        return factory()
    variants = factory.VARIANTS
    if variant not in variants:
        known = ", ".join(f"{base}@{v}" for v in variants) or "none"
        raise UnknownFramework(f"{base} has no variant {variant!r}; variants: {known}")
    adapter = factory(**variants[variant])
    adapter.name = name
    return adapter


__all__ = [
    "ALIASES",
    "GROUP",
    "SLOW_TO_COMPILE",
    "Adapter",
    "AdapterBase",
    "EpochResult",
    "FrameworkUnavailable",
    "ModelSpec",
    "Session",
    "SpikeData",
    "UnknownFramework",
    "Unsupported",
    "available",
    "epoch_order",
    "init_weights",
    "load",
    "names",
    "shd_spec",
    "validate",
]
