"""The report's tables, each a ``pandas.DataFrame`` drawn from ``harness.results.frame``.

Per task: seconds per epoch (median [min-max]) per framework with each framework's factor against
the reference (and its test accuracy where the task's rows evaluated), the protocol totals
(compile + epochs x median, projected to the full dataset) beside the published numbers, every
row's resources (seconds per epoch, compile seconds, peak memory in one column per measurement,
how the framework compiled, the machine while it was timed), and each compiled variant beside its
eager framework (speed-up, compile cost, break-even epochs, graphs). The micro-benchmark:
milliseconds per forward and per forward+backward call beside the published anchors, and the timed
calls, compile seconds and peak memory. Beside every time: its multiple of the dense floor
(``x floor``) and the fraction of the device's matmul peak it achieves (``% peak``), and every row
against the device's limit in ``limits_table`` (docs/limits.md). Each training row's activity
(spike rates, readout, synaptic operations) at its initial and final weights. Also
pytest-benchmark JSON as one table. Times taken on a busy machine are marked ``BUSY_MARK``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from frameworks import ALIASES
from harness.errors import SpikebenchError
from harness.limits import step_seconds
from harness.machine import BUSY_CORES
from harness.report.published import published
from harness.results import CONFIG_FIELDS, REFERENCE

SIZE_LABEL = {"shd": "H", "nmnist": "m", "micro": "n"}
"""What ``size`` (``harness.results.frame``) is called in each task's tables and plots."""
TABLE = {"shd": "table1", "nmnist": "table2", "micro": "micro"}
"""The paper's table of each task: the report's section and file names, the published numbers."""


def _fmt(value, digits: int = 3) -> str:
    return "" if value is None or pd.isna(value) else f"{value:.{digits}g}"


def _fmt_ms(value) -> str:
    """Milliseconds: three significant digits, but whole numbers from 100 on (no 1.73e+03)."""
    if value is None or pd.isna(value) or value < 100:
        return _fmt(value)
    return f"{value:.0f}"


def times_floor(value) -> str:
    """A floor ratio as ``4.2x`` (blank when not measured)."""
    return "" if value is None or pd.isna(value) else f"{value:.3g}x"


def percent_of_peak(value) -> str:
    """A fraction of the peak as a percentage, ``12.5%`` (blank when not measured)."""
    return "" if value is None or pd.isna(value) else f"{100 * value:.3g}%"


def limits_measured(part: pd.DataFrame) -> bool:
    """Whether any row of ``part`` has its floor or peak measured: the tables show ``x floor`` and
    ``% peak`` only then, so that folders from before the limits read as they were written."""
    return bool(part.floor_ratio.notna().any() or part.fraction_of_peak.notna().any())


def _limit_columns(record: dict, framework: str, r) -> dict:
    """``framework``'s ``x floor`` and ``% peak`` of row ``r`` (None: blank) into ``record``."""
    record[f"{framework} x floor"] = "" if r is None else times_floor(r.floor_ratio)
    record[f"{framework} % peak"] = "" if r is None else percent_of_peak(r.fraction_of_peak)
    return record


def _fmt_count(value) -> str:
    """A count (a float in a column that may be empty), or "?" when not measured."""
    return "?" if value is None or pd.isna(value) else str(int(value))


def _mib(value) -> float | None:
    """Bytes as MiB; None when not measured."""
    return None if value is None or pd.isna(value) else value / 2**20


def spread_cell(r, stem: str = "epoch_s", scale: float = 1.0, fmt=_fmt) -> str:
    """``median [min-max]`` of ``{stem}_median`` (``_min``, ``_max``) times ``scale``, or the status;
    ``BUSY_MARK`` after the times of a row measured on a busy machine."""
    if r.status != "ok":
        return f"{r.status}: {r.reason[:40]}"
    values = (r[f"{stem}_median"], r[f"{stem}_min"], r[f"{stem}_max"])
    median, low, high = (None if v is None or pd.isna(v) else v * scale for v in values)
    return f"{fmt(median)} [{fmt(low)}-{fmt(high)}]" + (BUSY_MARK if is_flagged(r.busy) else "")


BUSY_MARK = " BUSY"
"""After the times of a row whose machine was busy while they were taken (harness.machine)."""


def is_flagged(value) -> bool:
    """Whether a frame's ``busy`` value is True (it may be None, NaN, or a numpy bool)."""
    return value is not None and not pd.isna(value) and bool(value)


def machine_cell(r) -> str:
    """What the machine was doing while the row was timed: "BUSY: ...", "quiet: ..." or ""."""
    if r.busy is None or pd.isna(r.busy):
        return ""
    parts = []
    if r.other_cpu_cores is not None and pd.notna(r.other_cpu_cores):
        parts.append(f"{r.other_cpu_cores:.2f} other cores")
    if isinstance(r.device_other_processes, list) and r.device_other_processes:
        parts.append(f"{len(r.device_other_processes)} other GPU processes")
    return ("BUSY: " if is_flagged(r.busy) else "quiet: ") + ", ".join(parts)


def busy_note(frame: pd.DataFrame) -> str | None:
    """A warning naming how many rows ran on a busy machine (None when none did)."""
    busy = int(frame.busy.map(is_flagged).sum())
    if not busy:
        return None
    return (
        f"BUSY: {busy} of {len(frame)} rows were timed while other processes used more than "
        f"{BUSY_CORES:g} CPU cores on average or shared the GPU (harness.machine): their times "
        "overstate the framework's; rerun them on a quiet machine before comparing."
    )


def memory_columns(part: pd.DataFrame) -> pd.DataFrame:
    """Peak memory (MiB) of each row of ``part``, one column per measurement, named after it
    (``peak_memory_source``): a column holds only its measurement's rows, so that it compares like
    with like across frameworks; blank for the others."""
    measured = part[part.peak_memory_bytes.notna()]
    sources = list(dict.fromkeys(measured.peak_memory_source))
    cells = {
        f"peak MiB ({source})": [
            _fmt(_mib(value), 4) if pd.notna(value) and of == source else ""
            for value, of in zip(part.peak_memory_bytes, part.peak_memory_source, strict=True)
        ]
        for source in sources
    }
    return pd.DataFrame(cells, index=part.index)


def framework_order(part: pd.DataFrame) -> list[str]:
    """The frameworks of ``part``, the reference first."""
    return sorted(part.framework.unique(), key=lambda f: (f != REFERENCE, f))


def evaluated(part: pd.DataFrame) -> bool:
    """Whether any row of ``part`` measured its test split (``Row.evaluate``)."""
    return bool(part.evaluate.eq(True).any())


def accuracy_cell(r) -> str:
    """A row's test accuracy (three decimals), blank when it was not measured (never a 0)."""
    if r.status != "ok" or r.test_accuracy is None or pd.isna(r.test_accuracy):
        return ""
    return f"{r.test_accuracy:.3f}"


def epoch_table(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """Seconds per epoch, median [min-max], one column per framework, each beside its multiple of
    the dense floor and its fraction of the device's peak, plus factors vs the reference; where any
    row of the task evaluated, each framework's test accuracy beside its time."""
    part = frame[frame.task == task]
    label = SIZE_LABEL.get(task, "size")
    keys = sorted(set(zip(part["size"], part.batch_size, strict=True)))
    out = pd.DataFrame(index=pd.MultiIndex.from_tuples(keys, names=["size", "batch_size"]))
    with_accuracy = evaluated(part)
    for framework in framework_order(part):
        rows = part[part.framework == framework].set_index(["size", "batch_size"])
        out[framework] = [spread_cell(rows.loc[k]) if k in rows.index else "" for k in out.index]
        if limits_measured(part):
            limits = [_limit_columns({}, framework, rows.loc[k] if k in rows.index else None)
                      for k in out.index]  # fmt: skip
            for column in (f"{framework} x floor", f"{framework} % peak"):
                out[column] = [cells[column] for cells in limits]
        if with_accuracy:
            out[f"{framework} test acc"] = [
                accuracy_cell(rows.loc[k]) if k in rows.index else "" for k in out.index
            ]
        if framework != REFERENCE:
            out[f"{framework} / {REFERENCE}"] = [
                _fmt(rows.loc[k].vs_reference, 3) + "x"
                if k in rows.index and pd.notna(rows.loc[k].vs_reference)
                else ""
                for k in out.index
            ]
    return out.rename_axis([label, "B"]).reset_index()


def totals_table(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """Compile seconds and projected protocol totals beside the published numbers."""
    part = frame[(frame.task == task) & (frame.status == "ok")]
    label = SIZE_LABEL.get(task, "size")
    refs = published(TABLE.get(task, ""))
    records = []
    for (size, batch), group in part.groupby(["size", "batch_size"]):
        record = {label: size, "B": batch}
        for r in group.itertuples():
            record[f"{r.framework} compile s"] = _fmt(r.compile_s)
            record[f"{r.framework} total s"] = _fmt(r.projected_total_s, 4)
        ours = group[group.framework == REFERENCE].projected_total_s
        for p in refs:
            if (p.size, p.batch_size) == (size, batch) and p.total_s is not None:
                record[f"{p.framework} (paper, {p.hardware}) s"] = f"{p.total_s:g} ± {p.total_sd:g}"
                if len(ours) and pd.notna(ours.iloc[0]):
                    record[f"{REFERENCE} / {p.framework} (paper)"] = _fmt(ours.iloc[0] / p.total_s) + "x"
        records.append(record)
    return pd.DataFrame.from_records(records)


def micro_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Milliseconds per call, median [min-max], forward and forward+backward, per framework and n,
    each framework's forward+backward factor against the reference, and the published anchors
    (forward+backward, with their hardware) beside them."""
    part = frame[frame.task == "micro"]
    reference = part[(part.framework == REFERENCE) & (part.status == "ok")]
    records = []
    for (size, batch), group in part.groupby(["size", "batch_size"]):
        record = {"n": size, "B": batch}
        ref_step = reference[(reference["size"] == size) & (reference.batch_size == batch)].step_s_median
        for framework in framework_order(part):
            rows = group[group.framework == framework]
            if rows.empty:
                continue
            r = rows.iloc[0]
            record[f"{framework} forward ms"] = spread_cell(r, "forward_s", 1e3, _fmt_ms)
            record[f"{framework} fwd+bwd ms"] = spread_cell(r, "step_s", 1e3, _fmt_ms)
            if limits_measured(part):
                _limit_columns(record, framework, r)
            if framework != REFERENCE and len(ref_step) and pd.notna(r.step_s_median):
                record[f"{framework} / {REFERENCE}"] = _fmt(r.step_s_median / ref_step.iloc[0]) + "x"
        for p in published("micro"):
            if (p.size, p.batch_size) == (size, batch):
                record[f"{p.framework} ({p.hardware}) fwd+bwd ms"] = f"{p.epoch_s * 1e3:g}"
        records.append(record)
    return blank_filled(records)


def micro_details_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per framework and n: timed calls N, compile seconds and peak memory (MiB), each memory
    column named after its measurement (a framework measured two ways gets two columns)."""
    part = frame[(frame.task == "micro") & (frame.status == "ok")]
    records = []
    for (size, batch), group in part.groupby(["size", "batch_size"]):
        record = {"n": size, "B": batch}
        for framework in framework_order(group):
            r = group[group.framework == framework].iloc[0]
            record[f"{framework} calls"] = r.calls
            record[f"{framework} compile s"] = _fmt(r.compile_s)
            if pd.notna(r.peak_memory_bytes):
                label = f"{framework} peak MiB ({r.peak_memory_source})"
                record[label] = _fmt(_mib(r.peak_memory_bytes), 4)
        records.append(record)
    return blank_filled(records)


def blank_filled(records: list[dict]) -> pd.DataFrame:
    """Records as a table, a column missing from a record left blank (NaN would turn ints to floats)."""
    columns = list(dict.fromkeys(key for record in records for key in record))
    return pd.DataFrame([{c: r.get(c, "") for c in columns} for r in records], columns=columns)


def benchmark_table(paths: list[Path]) -> pd.DataFrame:
    """pytest-benchmark JSON files (``--benchmark-json``) as one table, in seconds."""
    records = []
    for path in paths:
        try:
            document = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise SpikebenchError(f"cannot read pytest-benchmark JSON {path}: {error}") from None
        for bench in document.get("benchmarks", []):
            stats = bench["stats"]
            records.append(
                {
                    "benchmark": bench["name"],
                    "median_s": stats["median"],
                    "iqr_s": stats["iqr"],
                    "min_s": stats["min"],
                    "max_s": stats["max"],
                    "rounds": stats["rounds"],
                    "machine": document.get("machine_info", {}).get("cpu", {}).get("brand_raw", ""),
                    "commit": document.get("commit_info", {}).get("id", "")[:12],
                }
            )
    return pd.DataFrame.from_records(records)


def configuration(r: pd.Series, label: str) -> dict:
    """A row's leading columns in the per-row tables: framework, size (as ``label``), B and T."""
    return {"framework": r["framework"], label: r["size"], "B": r["batch_size"], "T": r["time_steps"]}


def resources_table(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """Every ok row: seconds per epoch (its multiple of the floor and fraction of the peak, where
    measured), compile seconds, peak memory (MiB, one column per measurement: ``memory_columns``),
    how it compiled and the machine while it was timed."""
    part = frame[(frame.task == task) & (frame.status == "ok")]
    part = part.sort_values(["size", "batch_size", "time_steps"])
    label = SIZE_LABEL.get(task, "size")
    records = [
        {
            **configuration(r, label),
            "epoch s": spread_cell(r),
            f"x {REFERENCE}": _fmt(r["vs_reference"], 3) + "x" if pd.notna(r["vs_reference"]) else "",
            "x floor": times_floor(r["floor_ratio"]),
            "% peak": percent_of_peak(r["fraction_of_peak"]),
            "compile s": _fmt(r["compile_s"]),
        }
        for _, r in part.iterrows()
    ]
    table = pd.DataFrame.from_records(records, index=part.index)
    table = table.join(memory_columns(part))
    table["compiled as"] = part.compile_kind
    machine = [machine_cell(r) for _, r in part.iterrows()]
    if any(machine):  # rows of runs before the machine was watched have no reading
        table["machine"] = machine
    if not limits_measured(part):
        table = table.drop(columns=["x floor", "% peak"], errors="ignore")
    return table.reset_index(drop=True)


def eager_twin(framework: str) -> str:
    """The eager framework a compiled variant compiles: ``snntorch@compile`` -> ``snntorch``
    (former names through ``frameworks.ALIASES``: ``torch_compile`` -> ``torch_plain``)."""
    return ALIASES.get(framework, framework).partition("@")[0]


def break_even_epochs(compile_s: float, eager_s: float, compiled_s: float) -> float | None:
    """Epochs after which compiling has paid for itself: ``compile_s / (eager_s - compiled_s)``;
    None (never) when the compiled epoch is not faster."""
    saved = eager_s - compiled_s
    return compile_s / saved if saved > 0 else None


def compiled_table(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """Every ok compiled row (``compile_options`` set) beside its eager twin's ok row of the same
    configuration: seconds per epoch (median) of both, the speed-up (eager / compiled), compile
    seconds, break-even epochs, and what torch.compile did (mode, fullgraph; graphs, breaks,
    recompilations)."""
    part = frame[(frame.task == task) & (frame.status == "ok")]
    config = [name for name in CONFIG_FIELDS if name != "framework"]
    keys = [repr(values) for values in part[config].itertuples(index=False, name=None)]
    eager = {(f, k): r for (_, r), f, k in zip(part.iterrows(), part.framework, keys, strict=True)}
    label = SIZE_LABEL.get(task, "size")
    records = []
    for (_, r), key in zip(part.iterrows(), keys, strict=True):
        if not r.compile_options:
            continue
        twin = eager.get((eager_twin(r.framework), key))
        record = {"framework": eager_twin(r.framework), "variant": r.framework, label: r["size"],
                  "B": r.batch_size, "T": r.time_steps}  # fmt: skip
        eager_s = None if twin is None else twin.epoch_s_median
        record["eager epoch s"] = _fmt(eager_s)
        record["compiled epoch s"] = _fmt(r.epoch_s_median)
        record["speed-up"] = _fmt(eager_s / r.epoch_s_median) + "x" if eager_s else ""
        record["compile s"] = _fmt(r.compile_s)
        even = break_even_epochs(r.compile_s, eager_s, r.epoch_s_median) if eager_s else None
        never = "never" if even is None else _fmt_ms(even)  # whole epochs from 100 on
        record["break-even epochs"] = "" if eager_s is None else never
        options = r.compile_options
        record["mode, fullgraph"] = f"{options.get('mode')}, {options.get('fullgraph')}"
        counts = (r.graphs, r.graph_breaks, r.recompiles)
        record["graphs / breaks / recompiles"] = " / ".join(_fmt_count(c) for c in counts)
        records.append(record)
    return blank_filled(records)


def _giga(value) -> str:
    """A rate or count in units of 1e9 (blank when not measured)."""
    return "" if value is None or pd.isna(value) else _fmt(value / 1e9)


def limits_table(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """Every ok row against the device's limit: GFLOP per step, seconds per step and its dense
    floor, their ratio (and against the warm floor, where measured), the achieved GFLOP/s, the
    device's peak and the fraction of it achieved."""
    part = frame[(frame.task == task) & (frame.status == "ok")]
    label = SIZE_LABEL.get(task, "size")
    warm = bool(part.warm_floor_ratio.notna().any())  # blank columns for folders measured before
    records = [
        {
            **configuration(r, label),
            "GFLOP/step": _giga(r["flops_per_step"]),
            "s/step": _fmt(step_seconds(r)),
            "floor s/step": _fmt(r["dense_floor_s"]),
            "x floor": times_floor(r["floor_ratio"]),
            **(_warm_columns(r) if warm else {}),
            "GFLOP/s": _giga(r["achieved_flops_per_s"]),
            "peak GFLOP/s": _giga(r["peak_flops_per_s"]),
            "% peak": percent_of_peak(r["fraction_of_peak"]),
        }
        for _, r in part.sort_values(["size", "batch_size", "time_steps"]).iterrows()
    ]
    return pd.DataFrame.from_records(records)


def _warm_columns(r) -> dict[str, str]:
    """The warm floor of row ``r`` and its time over it (docs/limits.md)."""
    return {
        "warm floor s/step": _fmt(r["warm_floor_s"]),
        "x warm floor": times_floor(r["warm_floor_ratio"]),
    }


def _change(first, final) -> str:
    """``first -> final``, three significant digits each (blank where neither was measured)."""
    if pd.isna(first) and pd.isna(final):  # pd.isna(None) too
        return ""
    return f"{_fmt(first)} -> {_fmt(final)}"


def activity_table(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """Every ok training row's activity on the first training batch (``frameworks.activity``), as
    ``initial -> final`` weights: each spiking layer's spike rate, the readout's mean ``|u|``, the
    effective ACs and MACs per sample, and the dense operations per sample (or why none was
    computed)."""
    part = frame[(frame.task == task) & (frame.status == "ok")]
    tried = part.spike_rates_first.map(bool) | (part.activity_error != "")  # micro rows: never
    part = part[tried]
    label = SIZE_LABEL.get(task, "size")
    records = []
    for _, r in part.sort_values(["size", "batch_size", "time_steps"]).iterrows():
        record = configuration(r, label)
        if r.activity_error:
            records.append(record | {"activity": f"failed: {r.activity_error[:60]}"})
            continue
        for layer, rate in r.spike_rates_first.items():
            record[f"{layer} rate"] = _change(rate, r.spike_rates_final.get(layer))
        record["readout |u|"] = _change(r.readout_abs_mean_first, r.readout_abs_mean_final)
        record["ACs"] = _change(r.synops_acs_first, r.synops_acs_final)
        record["MACs"] = _change(r.synops_macs_first, r.synops_macs_final)
        record["dense"] = _fmt(r.synops_dense)
        records.append(record)
    return blank_filled(records)
