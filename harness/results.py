"""Result rows: one flat row per cell, its whole configuration then its statistics.

A results folder holds ``results.json`` (schema version, environment, rows) and ``results.csv``
(the same rows; lists and dicts as JSON text). Both are replaced atomically after every cell, so
an interrupted run keeps every finished cell and never leaves a half-written file. ``Row.fields()``
is the one field order: JSON keys and CSV columns. Files of the previous schema load through
``upgrade`` (docs/results-schema.md); newer ones, and unknown keys, are refused.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from frameworks.spec import micro_spec, nmnist_spec, shd_spec
from harness.cell import Cell
from harness.errors import SpikebenchError

if TYPE_CHECKING:
    import pandas as pd

SCHEMA = 5
"""The version of the row layout written here; 1 to 4 are read through ``upgrade``."""
READABLE = (1, 2, 3, 4, 5)
"""The schemas ``read_results`` reads (older ones through ``upgrade``)."""
STATUSES = ("ok", "failed", "skipped", "interrupted")
"""``interrupted``: the run was stopped while the cell ran; a resumed run recomputes it."""
REFERENCE = "spyx_core"
"""The framework every other is compared with (ratios, loss agreement, the tables' first column)."""
CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(Cell))
"""The configuration a row copies from its cell: every ``Cell`` field, in ``Cell``'s order."""


@dataclass(kw_only=True)
class Row:
    """One cell's outcome: the cell's configuration as it ran, then what was measured.

    The configuration fields are ``Cell``'s (``CONFIG_FIELDS``). The worker replaces the ones it
    resolves with what ran: ``data`` the data actually loaded ("synthetic" or "real"; the
    micro-benchmark's input distribution), ``n_samples`` the training samples counted, ``channels``
    and ``time_steps`` the data's shape, ``surrogate``, ``surrogate_slope`` and ``learning_rate``
    the spec's, ``evaluate`` whether the test split was measured (``harness.cell.evaluates``).
    Times are seconds; ``None`` means "not measured".
    """

    # The configuration (harness.cell.Cell).
    framework: str
    task: str
    device: str
    hidden: int = 0
    width: int = 0
    channels: int = 0
    time_steps: int = 0
    batch_size: int = 0
    n_samples: int | None = None
    epochs: int = 0
    seed: int = 0
    train_beta: bool = True
    neuron: str = "LIF"
    surrogate: str | None = None
    surrogate_slope: float | None = None
    learning_rate: float | None = None
    data: str = ""
    data_dir: str | None = None
    evaluate: bool | None = False  # None: auto, unresolved (the cell failed before its data loaded)
    projected_epochs: int | None = None
    reference_samples: int | None = None
    # The outcome.
    cell_key: str = ""  # Cell.key(): what a resumed run matches on
    status: str = "ok"  # ok | failed | skipped | interrupted
    reason: str = ""  # why a cell failed or was skipped
    semantics: str = ""  # how the adapter differs from the canonical model ("" when exact)
    device_name: str = ""
    steps_per_epoch: int = 0
    timed_epochs: int = 0
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
    # projected_total_s = compile_s + projected_epochs * projected_epoch_s, where
    # full_steps_per_epoch = reference_samples // batch_size.
    full_steps_per_epoch: int | None = None
    projected_epoch_s: float | None = None
    projected_total_s: float | None = None
    loss_first_step: float | None = None
    loss_per_epoch: list[float] = field(default_factory=list)
    loss_steps: list[float] = field(default_factory=list)
    """The loss of every training step, all epochs (the warm-up first), before its update."""
    accuracy_per_epoch: list[float] = field(default_factory=list)
    test_accuracy: float | None = None
    # The headline peak memory in bytes and its label (harness.memory.headline; the memory group
    # at the end holds every figure it is chosen from). Rows of earlier runs: the backend's figure.
    peak_memory_bytes: int | None = None
    peak_memory_source: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    git_commit: str = ""
    wall_s: float | None = None
    # Where the cell ran (schema 3): the worker's host, its job (a Slurm or submitit job id, or
    # "local-<pid>"), and the CUDA_VISIBLE_DEVICES it was confined to ("" when not confined).
    host: str = ""
    job_id: str = ""
    device_index: str = ""
    # What a compiler did (frameworks.adapter.CompileStats; empty/None for eager rows): the options
    # as they ran (torch.compile's backend, mode, fullgraph, dynamic), graphs compiled, graph
    # breaks, recompilations, and the first line of each distinct graph-break reason.
    compile_options: dict[str, Any] = field(default_factory=dict)
    graphs: int | None = None
    graph_breaks: int | None = None
    recompiles: int | None = None
    graph_break_reasons: list[str] = field(default_factory=list)
    # The test split measured after training when ``evaluate`` (its accuracy is ``test_accuracy``,
    # beside the training accuracies): how many samples it held and the mean loss on them.
    test_samples: int | None = None
    test_loss: float | None = None
    # Against the device's limit (harness.limits, docs/limits.md): the step's matmul and
    # convolution FLOPs and the ops they come from (frameworks.flops), the rate achieved (FLOPs
    # over seconds per step), the device's float32 matmul peak and the fraction of it achieved,
    # the dense floor (those ops timed alone on the device, summed; seconds per step) and seconds
    # per step over that floor. None where not measured.
    flops_per_step: int | None = None
    synaptic_ops: list[dict[str, Any]] = field(default_factory=list)
    achieved_flops_per_s: float | None = None
    peak_flops_per_s: float | None = None
    fraction_of_peak: float | None = None
    dense_floor_s: float | None = None
    floor_ratio: float | None = None
    # The same floor with each op writing into an already-mapped output (harness.floor: "warm"):
    # without the page faults a fresh output pays on the CPU.
    warm_floor_s: float | None = None
    warm_floor_ratio: float | None = None
    # Activity (frameworks.activity; docs/activity.md), computed after the timed epochs by the
    # canonical forward (spyx_core, float32 on the CPU) at this row's weights, on the first
    # training batch: "first" at the initial weights, "final" at the weights after the last epoch.
    # Spike rates per spiking layer ("<index>.<kind>", e.g. "1.LIF": fraction of its neuron-time-
    # steps that spike), the LI readout's mean |u[t]|, and NeuroBench's synaptic operations per
    # sample (effective ACs and MACs; dense does not depend on the weights' values). Empty/None
    # when not computed: training rows only; activity_error says why it failed.
    spike_rates_first: dict[str, float] = field(default_factory=dict)
    spike_rates_final: dict[str, float] = field(default_factory=dict)
    readout_abs_mean_first: float | None = None
    readout_abs_mean_final: float | None = None
    synops_acs_first: float | None = None
    synops_acs_final: float | None = None
    synops_macs_first: float | None = None
    synops_macs_final: float | None = None
    synops_dense: float | None = None
    activity_error: str = ""
    # The machine while the timed part ran (harness.machine; None: unknown, e.g. not Linux):
    # other processes' CPU as cores busy on average, the 1-minute load average at its start and
    # end, the other compute processes on the cell's GPU ({"pid", "used_mib"}; None off the GPU
    # or without nvidia-smi), and whether that makes the times suspect (harness.machine.is_busy).
    other_cpu_cores: float | None = None
    load_1m_start: float | None = None
    load_1m_end: float | None = None
    device_other_processes: list[dict[str, int]] | None = None
    busy: bool | None = None
    # Peak memory, like with like (harness.memory, docs/memory.md): the worker's peak RSS above
    # its baseline taken before the model is built and how (``peak_rss_source``), the same for
    # every framework; then each backend's own figures (frameworks.adapter.BackendMemory).
    # ``peak_memory_bytes`` above is the device's headline among them (harness.memory.headline),
    # ``peak_memory_source`` its label.
    peak_rss_above_baseline_bytes: int | None = None
    peak_rss_source: str = ""
    xla_planned_bytes: int | None = None
    jax_peak_bytes_in_use: int | None = None
    torch_max_allocated_bytes: int | None = None
    torch_max_reserved_bytes: int | None = None

    def __post_init__(self) -> None:
        _one_of("status", self.status, STATUSES)

    @classmethod
    def for_cell(cls, cell: Cell, **fields: Any) -> Row:
        """A row carrying ``cell``'s configuration (the worker fills in what it measures). A cell
        that leaves the learning rate to its task gets the task's default here, so that a row whose
        worker never reported (a time-out, a crash) still says the rate the cell ran with."""
        config = cell.as_dict()
        if config.get("learning_rate") is None:
            config["learning_rate"] = _LEARNING_RATES.get(cell.task)
        return cls(cell_key=cell.key(), **config, **fields)

    @classmethod
    def fields(cls) -> list[str]:
        """Every field in the declared order: the JSON keys and the CSV columns."""
        return [f.name for f in dataclasses.fields(cls)]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Row:
        """The row of ``data`` (as written by ``as_dict``).

        Raises:
            SpikebenchError: ``data`` has keys that are no field of this schema (named).
        """
        unknown = sorted(set(data) - set(cls.fields()))
        if unknown:
            raise SpikebenchError(f"unknown row field(s) {', '.join(unknown)} (schema {SCHEMA})")
        return cls(**data)

    def config_key(self) -> tuple[Any, ...]:
        """The configuration but the framework: rows with equal keys compare like with like."""
        return tuple(getattr(self, name) for name in CONFIG_FIELDS if name != "framework")


_LEARNING_RATES = {
    "shd": shd_spec().learning_rate,
    "nmnist": nmnist_spec().learning_rate,
    "micro": micro_spec(1).learning_rate,
}
_SURROGATE = re.compile(r"(?P<name>[^()]+)\(k=(?P<slope>[^()]+)\)")


def upgrade(row: dict[str, Any], schema: int) -> dict[str, Any]:
    """A row of an older ``schema`` as a row of ``SCHEMA`` (docs/results-schema.md).

    Schema 2 had no compile statistics (``compile_options``, ``graphs``, ``graph_breaks``,
    ``recompiles``, ``graph_break_reasons``): they take their defaults (not measured), and nothing
    else changed. Schema 1 did not record ``neuron``, ``surrogate_slope``, ``learning_rate``,
    ``data_dir``, ``evaluate`` nor ``reference_samples``, and wrote the surrogate as one string
    ("arctan(k=2)", "" where no spec was built). They are filled from what the row says: the
    surrogate string is split into name and slope; ``evaluate`` is whether a test accuracy was measured;
    ``reference_samples`` is ``full_steps_per_epoch * batch_size`` (which gives back the same
    projection); the neuron is "LIF" and the learning rate the task's default spec's (the only
    ones a schema-1 run could use without saying so); ``data_dir`` is None (unknown). Schema 2 did
    not keep the per-step losses: ``loss_steps`` is empty (no trajectory to compare).

    Schema 2 did not record where a cell ran: ``host``, ``job_id`` and ``device_index`` are "".

    Schema 3 had none of the groups after the compile statistics (activity, test split, limit,
    machine, memory): they take their defaults (not measured), and nothing else changed.

    Schema 4 had no warm floor (``warm_floor_s``, ``warm_floor_ratio``): None (not measured).

    Raises:
        SpikebenchError: ``schema`` is not one of ``READABLE``.
    """
    if schema in (3, 4, SCHEMA):
        return row
    if schema == 2:
        return upgrade({"host": "", "job_id": "", "device_index": ""} | row | {"loss_steps": []}, 3)
    if schema != 1:
        raise SpikebenchError(f"no upgrade from schema {schema!r} to {SCHEMA}")
    return upgrade(_from_schema_1(row), 2)


def _from_schema_1(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    match = _SURROGATE.fullmatch(row.get("surrogate") or "")
    row["surrogate"] = match["name"] if match else None
    row["surrogate_slope"] = float(match["slope"]) if match else None
    full_steps = row.get("full_steps_per_epoch")
    row["reference_samples"] = full_steps * row["batch_size"] if full_steps is not None else None
    row["neuron"] = "LIF"
    row["learning_rate"] = _LEARNING_RATES.get(row.get("task"))
    row["data_dir"] = None
    row["evaluate"] = row.get("test_accuracy") is not None
    return row


def frame(rows: list[Row]) -> pd.DataFrame:
    """The rows as one frame in ``Row``'s vocabulary (its columns, in its order), plus three:

    ``size`` (the task's size: ``hidden`` H of SHD, ``width`` m of N-MNIST, ``hidden`` n of the
    micro-benchmark), ``vs_reference`` (``epoch_s_median`` over the reference's, ``REFERENCE``'s
    ok row with the same ``config_key``) and ``loss_first_step_rel_dev`` (``|loss - ref| / |ref|``
    of ``loss_first_step``, same pairing). Both None where either side is missing or the
    reference is 0.
    """
    import pandas as pd  # the worker processes, which write rows, never need pandas

    table = pd.DataFrame([r.as_dict() for r in rows], columns=Row.fields())
    table["size"] = [r.width if r.task == "nmnist" else r.hidden for r in rows]
    table["vs_reference"] = _relative(rows, "epoch_s_median", lambda value, ref: value / ref)
    table["loss_first_step_rel_dev"] = _relative(
        rows, "loss_first_step", lambda value, ref: abs(value - ref) / abs(ref)
    )
    return table


def _relative(
    rows: list[Row], name: str, relation: Callable[[float, float], float]
) -> list[float | None]:
    """``relation(value, reference value)`` of field ``name`` for every row (``frame``)."""
    reference: dict[tuple[Any, ...], float] = {}
    for row in rows:
        if row.framework == REFERENCE and row.status == "ok" and getattr(row, name) is not None:
            reference.setdefault(row.config_key(), getattr(row, name))
    values = [(getattr(row, name), reference.get(row.config_key())) for row in rows]
    return [relation(value, ref) if value is not None and ref else None for value, ref in values]


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

    Rows of schemas 1 and 2 are upgraded (``upgrade``).

    Raises:
        SpikebenchError: no results there, unreadable JSON, a schema other than 1 to ``SCHEMA``
            (newer ones say so), or a row with unknown fields (named).
    """
    path = Path(folder) / "results.json"
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise SpikebenchError(f"no results.json in {folder}") from None
    except json.JSONDecodeError as error:
        raise SpikebenchError(f"{path} is not valid JSON ({error})") from None
    schema = document.get("schema")
    if isinstance(schema, int) and schema > SCHEMA:
        raise SpikebenchError(
            f"{path} has schema {schema}, newer than this spikebench reads ({SCHEMA}): update spikebench"
        )
    if schema not in READABLE:
        raise SpikebenchError(
            f"{path} has schema {schema!r}; this spikebench reads schemas "
            + ", ".join(map(str, READABLE))
        )
    try:
        rows = [Row.from_dict(upgrade(r, schema)) for r in document["rows"]]
    except SpikebenchError as error:
        raise SpikebenchError(f"{path}: {error}") from None
    return rows, document.get("environment", {})


def _one_of(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
