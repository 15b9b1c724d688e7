"""Which spikebench runs are timing on this machine's devices, to warn when two would share one.

Each run that times cells on this machine registers a claim, a small JSON file in a folder of the
machine's temporary directory (``$SPIKEBENCH_CLAIMS_DIR`` overrides it), naming its device, the GPU
indices of its slots and its results folder; the claim goes when the run ends. A run that finds a
live claim on the same device warns: two benchmarks on one device disturb each other's timings.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.devices import Slot
from harness.lock import owner_alive, owner_record

CLAIMS_ENV = "SPIKEBENCH_CLAIMS_DIR"


def claims_dir() -> Path:
    return Path(os.environ.get(CLAIMS_ENV) or Path(tempfile.gettempdir()) / "spikebench-claims")


def _indices(slots: list[Slot]) -> list[int] | None:
    """The GPU indices the slots confine to; None when one slot sees every device."""
    if any(slot.visible_gpus is None for slot in slots):
        return None
    return sorted({k for slot in slots for k in slot.visible_gpus or ()})


def _overlaps(theirs: dict[str, Any], device: str, indices: list[int] | None) -> bool:
    if theirs.get("device") != device:
        return False
    other = theirs.get("indices")
    return other is None or indices is None or bool(set(other) & set(indices))


def others_on(device: str, slots: list[Slot]) -> list[dict[str, Any]]:
    """The live claims of other runs on ``device`` that share one of ``slots``' devices."""
    found = []
    for path in sorted(claims_dir().glob("*.json")):
        try:
            claim = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if claim.get("pid") == os.getpid() or not owner_alive(claim):
            continue
        if _overlaps(claim, device, _indices(slots)):
            found.append(claim)
    return found


def warning(claim: dict[str, Any]) -> str:
    where = claim["device"] + (f" {claim['indices']}" if claim.get("indices") is not None else "")
    return (
        f"spikebench: warning: another spikebench run (pid {claim['pid']}, results in {claim['out']}) "
        f"is timing on {where} too: the two disturb each other's timings"
    )


@contextmanager
def claimed(device: str, slots: list[Slot], out: Path) -> Iterator[list[dict[str, Any]]]:
    """Registers this run on ``device``'s ``slots`` while the block runs; yields the other runs'."""
    folder = claims_dir()
    folder.mkdir(parents=True, exist_ok=True)
    others = others_on(device, slots)
    record = owner_record() | {"device": device, "indices": _indices(slots), "out": str(out)}
    path = folder / f"{record['host']}-{record['pid']}.json"
    path.write_text(json.dumps(record))
    try:
        yield others
    finally:
        path.unlink(missing_ok=True)
