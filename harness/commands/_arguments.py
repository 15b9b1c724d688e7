"""Argument types and checks that several subcommands share."""

from __future__ import annotations

import argparse

import frameworks
from harness.errors import SpikebenchError


def positive(text: str) -> int:
    """An ``argparse`` type: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative(text: str) -> int:
    """An ``argparse`` type: an integer of at least 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def rate(text: str) -> float:
    """An ``argparse`` type: a number in (0, 1]."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must lie in (0, 1], got {value}")
    return value


def framework_list(text: str) -> list[str]:
    """An ``argparse`` type: comma-separated framework names (``name`` or ``name@variant``)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one framework name")
    return names


def checked_frameworks(names: list[str] | None, default: list[str]) -> list[str]:
    """``names`` (or ``default``), each checked to be registered.

    Raises:
        SpikebenchError: an unknown name or variant (the message lists the known ones).
    """
    chosen = names or default
    try:
        for name in chosen:
            frameworks.validate(name)
    except frameworks.UnknownFramework as error:
        raise SpikebenchError(str(error)) from None
    return chosen
