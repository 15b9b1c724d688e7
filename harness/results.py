"""Result rows: one flat row per cell (framework x configuration), field order declared once.

A results folder holds ``results.json`` (schema version, environment, rows) and ``results.csv``
(the same rows; lists and dicts as JSON text). Both are replaced atomically after every cell, so
an interrupted run keeps every finished cell and never leaves a half-written file.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import SpikebenchError

if TYPE_CHECKING:
    from harness.cell import Cell

SCHEMA = 1
STATUSES = ("ok", "failed", "skipped")
_CELL_FIELDS = (
    "framework", "task", "device", "hidden", "width", "channels", "time_steps", "batch_size",
    "epochs", "seed", "train_beta",
)  # fmt: skip
"""The configuration a row copies from its cell."""


@dataclass(kw_only=True)
class Row:
    """One cell's outcome. Times are seconds; ``None`` means "not measured"."""

    framework: str
    task: str
    device: str
    cell_key: str = ""  # Cell.key(): what a resumed run matches on
    status: str = "ok"  # ok | failed | skipped
    reason: str = ""  # why a cell failed or was skipped
    semantics: str = ""  # how the adapter differs from the canonical model ("" when exact)
    data: str = ""  # "synthetic" or "real"; the micro-benchmark's input distribution
    device_name: str = ""
    hidden: int = 0
    width: int = 0
    channels: int = 0
    time_steps: int = 0
    batch_size: int = 0
    n_samples: int = 0
    steps_per_epoch: int = 0
    epochs: int = 0
    timed_epochs: int = 0
    seed: int = 0
    train_beta: bool = True
    surrogate: str = ""
    compile_kind: str = ""
    compile_s: float | None = None
    first_epoch_s: float | None = None
    epoch_s_median: float | None = None
    epoch_s_min: float | None = None
    epoch_s_max: float | None = None
    epoch_s_all: list[float] = field(default_factory=list)
    # The micro-benchmark (task "micro"): seconds per forward call and per forward+backward call
    # ("step"), median, min and max over ``calls`` timed calls of each kind.
    forward_s_median: float | None = None
    forward_s_min: float | None = None
    forward_s_max: float | None = None
    step_s_median: float | None = None
    step_s_min: float | None = None
    step_s_max: float | None = None
    calls: int = 0
    # Projection to the paper's protocol (a reduced sample count scales the epoch linearly in steps):
    # projected_epoch_s = epoch_s_median * full_steps_per_epoch / steps_per_epoch and
    # projected_total_s = compile_s + projected_epochs * projected_epoch_s.
    full_steps_per_epoch: int | None = None
    projected_epochs: int | None = None
    projected_epoch_s: float | None = None
    projected_total_s: float | None = None
    loss_first_step: float | None = None
    loss_per_epoch: list[float] = field(default_factory=list)
    accuracy_per_epoch: list[float] = field(default_factory=list)
    test_accuracy: float | None = None
    peak_memory_bytes: int | None = None
    peak_memory_source: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    git_commit: str = ""
    wall_s: float | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @classmethod
    def for_cell(cls, cell: Cell, **fields: Any) -> Row:
        """A row carrying ``cell``'s configuration (the worker fills in what it measures)."""
        config = {name: getattr(cell, name) for name in _CELL_FIELDS}
        return cls(cell_key=cell.key(), **config, **fields)

    @classmethod
    def fields(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Row:
        known = set(cls.fields())
        return cls(**{k: v for k, v in data.items() if k in known})


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _csv_text(rows: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=Row.fields())
    writer.writeheader()
    for row in rows:
        flat = {
            k: json.dumps(v) if isinstance(v, list | dict) else ("" if v is None else v)
            for k, v in row.as_dict().items()
        }
        writer.writerow(flat)
    return buffer.getvalue()


def write_results(folder: Path, rows: list[Row], environment: dict[str, Any]) -> None:
    """Writes ``results.json`` and ``results.csv`` in ``folder``, each atomically."""
    document = {"schema": SCHEMA, "environment": environment, "rows": [r.as_dict() for r in rows]}
    _atomic_write(folder / "results.json", json.dumps(document, indent=1) + "\n")
    _atomic_write(folder / "results.csv", _csv_text(rows))


def read_results(folder: Path) -> tuple[list[Row], dict[str, Any]]:
    """Reads a results folder written by ``write_results``.

    Raises:
        SpikebenchError: no results there, unreadable JSON, or another schema version.
    """
    path = Path(folder) / "results.json"
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise SpikebenchError(f"no results.json in {folder}") from None
    except json.JSONDecodeError as error:
        raise SpikebenchError(f"{path} is not valid JSON ({error})") from None
    if document.get("schema") != SCHEMA:
        raise SpikebenchError(
            f"{path} has schema {document.get('schema')!r}; this spikebench reads schema {SCHEMA}"
        )
    return [Row.from_dict(r) for r in document["rows"]], document.get("environment", {})
