"""``spikebench report``: the paper's tables (markdown + CSV) and plots from a results folder.

Per grid (table1, table2, or a plain run), three tables: measured seconds per epoch
(median [min-max]) per framework with each framework's factor against spyx_core, the protocol
totals (compile + epochs x median, projected to the full dataset) beside the published numbers, and
every row's resources (seconds per epoch, compile seconds, peak memory and where it comes from, and
how the framework compiled: spyx_core rows name their implementation there).
The micro-benchmark has its own: milliseconds per forward and per forward+backward call beside the
published anchors, and the timed calls, compile seconds and peak memory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from harness.errors import SpikebenchError
from harness.published import published
from harness.results import Row, read_results
from harness.summary import REFERENCE, relative_to_reference

_SIZE = {"shd": "hidden", "nmnist": "width", "micro": "hidden"}
_SIZE_LABEL = {"shd": "H", "nmnist": "m", "micro": "n"}
_TABLE = {"shd": "table1", "nmnist": "table2", "micro": "micro"}


def tidy(rows: list[Row]) -> pd.DataFrame:
    """One line per row with the fields the tables need, ``size`` being H, m or n."""
    records = []
    for r in rows:
        records.append(
            {
                "task": r.task,
                "size": getattr(r, _SIZE.get(r.task, "hidden")),
                "batch_size": r.batch_size,
                "framework": r.framework,
                "device": r.device,
                "device_name": r.device_name,
                "data": r.data,
                "status": r.status,
                "reason": r.reason,
                "n_samples": r.n_samples,
                "timed_epochs": r.timed_epochs,
                "compile_s": r.compile_s,
                "epoch_s": r.epoch_s_median,
                "epoch_s_min": r.epoch_s_min,
                "epoch_s_max": r.epoch_s_max,
                "forward_s": r.forward_s_median,
                "forward_s_min": r.forward_s_min,
                "forward_s_max": r.forward_s_max,
                "step_s": r.step_s_median,
                "step_s_min": r.step_s_min,
                "step_s_max": r.step_s_max,
                "calls": r.calls,
                "projected_epoch_s": r.projected_epoch_s,
                "projected_epochs": r.projected_epochs,
                "projected_total_s": r.projected_total_s,
                "peak_memory_mib": r.peak_memory_bytes / 2**20 if r.peak_memory_bytes else None,
                "peak_memory_source": r.peak_memory_source,
                "compile_kind": r.compile_kind,
                "time_steps": r.time_steps,
                "loss_first_step": r.loss_first_step,
            }
        )
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return frame
    keys = ["task", "size", "batch_size", "device"]
    frame["vs_spyx_core"] = relative_to_reference(frame, "epoch_s", keys, lambda v, ref: v / ref)
    return frame


def _fmt(value, digits: int = 3) -> str:
    return "" if value is None or pd.isna(value) else f"{value:.{digits}g}"


def _fmt_ms(value) -> str:
    """Milliseconds: three significant digits, but whole numbers from 100 on (no 1.73e+03)."""
    if value is None or pd.isna(value) or value < 100:
        return _fmt(value)
    return f"{value:.0f}"


def _spread_cell(r, column: str = "epoch_s", scale: float = 1.0, fmt=_fmt) -> str:
    """``median [min-max]`` of ``column`` (and its ``_min``, ``_max``) times ``scale``, or the status."""
    if r.status != "ok":
        return f"{r.status}: {r.reason[:40]}"
    values = (r[column], r[f"{column}_min"], r[f"{column}_max"])
    median, low, high = (None if v is None or pd.isna(v) else v * scale for v in values)
    return f"{fmt(median)} [{fmt(low)}-{fmt(high)}]"


def _frameworks(part: pd.DataFrame) -> list[str]:
    """The frameworks of ``part``, the reference first."""
    return sorted(part.framework.unique(), key=lambda f: (f != REFERENCE, f))


def epoch_table(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """Seconds per epoch, median [min-max], one column per framework, plus factors vs spyx_core."""
    part = frame[frame.task == task]
    label = _SIZE_LABEL.get(task, "size")
    keys = sorted(set(zip(part["size"], part.batch_size, strict=True)))
    out = pd.DataFrame(index=pd.MultiIndex.from_tuples(keys, names=["size", "batch_size"]))
    for framework in _frameworks(part):
        rows = part[part.framework == framework].set_index(["size", "batch_size"])
        out[framework] = [_spread_cell(rows.loc[k]) if k in rows.index else "" for k in out.index]
        if framework != REFERENCE:
            out[f"{framework} / {REFERENCE}"] = [
                _fmt(rows.loc[k].vs_spyx_core, 3) + "x"
                if k in rows.index and pd.notna(rows.loc[k].vs_spyx_core)
                else ""
                for k in out.index
            ]
    return out.rename_axis([label, "B"]).reset_index()


def totals_table(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """Compile seconds and projected protocol totals beside the published numbers."""
    part = frame[(frame.task == task) & (frame.status == "ok")]
    label = _SIZE_LABEL.get(task, "size")
    refs = published(_TABLE.get(task, ""))
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
    each framework's forward+backward factor against spyx_core, and the published anchors
    (forward+backward, with their hardware) beside them."""
    part = frame[frame.task == "micro"]
    reference = part[(part.framework == REFERENCE) & (part.status == "ok")]
    records = []
    for (size, batch), group in part.groupby(["size", "batch_size"]):
        record = {"n": size, "B": batch}
        ref_step = reference[(reference["size"] == size) & (reference.batch_size == batch)].step_s
        for framework in _frameworks(part):
            rows = group[group.framework == framework]
            if rows.empty:
                continue
            r = rows.iloc[0]
            record[f"{framework} forward ms"] = _spread_cell(r, "forward_s", 1e3, _fmt_ms)
            record[f"{framework} fwd+bwd ms"] = _spread_cell(r, "step_s", 1e3, _fmt_ms)
            if framework != REFERENCE and len(ref_step) and pd.notna(r.step_s):
                record[f"{framework} / {REFERENCE}"] = _fmt(r.step_s / ref_step.iloc[0]) + "x"
        for p in published("micro"):
            if (p.size, p.batch_size) == (size, batch):
                record[f"{p.framework} ({p.hardware}) fwd+bwd ms"] = f"{p.epoch_s * 1e3:g}"
        records.append(record)
    return _blank_filled(records)


def micro_details_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per framework and n: timed calls N, compile seconds and peak memory (MiB)."""
    part = frame[(frame.task == "micro") & (frame.status == "ok")]
    records = []
    for (size, batch), group in part.groupby(["size", "batch_size"]):
        record = {"n": size, "B": batch}
        for framework in _frameworks(group):
            r = group[group.framework == framework].iloc[0]
            record[f"{framework} calls"] = r.calls
            record[f"{framework} compile s"] = _fmt(r.compile_s)
            record[f"{framework} peak MiB"] = _fmt(r.peak_memory_mib, 4)
        records.append(record)
    return _blank_filled(records)


def _blank_filled(records: list[dict]) -> pd.DataFrame:
    """Records as a table, a column missing from a record left blank (NaN would turn ints to floats)."""
    columns = list(dict.fromkeys(key for record in records for key in record))
    return pd.DataFrame([{c: r.get(c, "") for c in columns} for r in records], columns=columns)


def _micro_section(frame: pd.DataFrame, out: Path) -> list[str]:
    """The micro-benchmark's tables, memory sources and plot, as report lines."""
    from harness.plots import plot_micro  # matplotlib only when reporting

    part = frame[frame.task == "micro"]
    devices = ", ".join(sorted(d for d in part.device_name.unique() if d)) or "unknown device"
    times = micro_table(frame)
    times.to_csv(out / "micro-times.csv", index=False)
    lines = [
        "## micro: Open Neuromorphic micro-benchmark, ms per call, median [min-max]",
        "",
        f"Linear(n, n) + LIF, its spikes the output, float32, on {devices}. {_MICRO_PROTOCOL}",
        "",
        times.to_markdown(index=False),
        "",
    ]
    details = micro_details_table(frame)
    if not details.empty:
        details.to_csv(out / "micro-details.csv", index=False)
        sources = part[part.status == "ok"].groupby("framework").peak_memory_source.first()
        lines += [
            "### micro: timed calls, compile and peak memory",
            "",
            details.to_markdown(index=False),
            "",
            "Peak memory sources (they differ; each row says which): "
            + "; ".join(f"{name}: {source}" for name, source in sources.items()),
            "",
        ]
    return [*lines, f"![micro]({plot_micro(frame, out).name})", ""]


_MICRO_PROTOCOL = (
    "Input: the same seeded Bernoulli(0.1) spikes for every framework, B=16. `forward`: one "
    "call without gradient tracking; `fwd+bwd`: the forward and `output.sum()`'s backward to every "
    "trained parameter (gradients from zero). Compile and warm-up calls apart; each call timed "
    "alone between device synchronisations; median [min-max] of N calls (N below). The published "
    "anchors are one run on another machine (named in the column), median of 10: ratios against "
    "them compare machines as much as software."
)


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


def resources_table(frame: pd.DataFrame, task: str) -> pd.DataFrame:
    """Every ok row: seconds per epoch, compile seconds, peak memory (MiB) and its source."""
    part = frame[(frame.task == task) & (frame.status == "ok")]
    label = _SIZE_LABEL.get(task, "size")
    records = [
        {
            "framework": r["framework"],
            label: r["size"],
            "B": r["batch_size"],
            "T": r["time_steps"],
            "epoch s": _spread_cell(r),
            f"x {REFERENCE}": _fmt(r["vs_spyx_core"], 3) + "x" if pd.notna(r["vs_spyx_core"]) else "",
            "compile s": _fmt(r["compile_s"]),
            "peak MiB": _fmt(r["peak_memory_mib"], 4),
            "memory source": r["peak_memory_source"],
            "compiled as": r["compile_kind"],
        }
        for _, r in part.sort_values(["size", "batch_size", "time_steps"]).iterrows()
    ]
    return pd.DataFrame.from_records(records)


def write_report(folder: Path, out: Path | None = None, benchmarks: list[Path] = ()) -> Path:
    """Writes ``report.md``, CSV tables and PNG plots for the results in ``folder``."""
    from harness.plots import plot_epochs  # matplotlib only when reporting

    rows, environment = read_results(folder)
    out = Path(out or folder)
    out.mkdir(parents=True, exist_ok=True)
    frame = tidy(rows)
    frame.to_csv(out / "report.csv", index=False)
    lines = [f"# spikebench report: {folder}", "", _environment_lines(environment), ""]
    for task in sorted(frame.task.unique()) if not frame.empty else []:
        if task == "micro":
            lines += _micro_section(frame, out)
            continue
        name = _TABLE.get(task, task)
        lines += [f"## {name} ({task}): seconds per epoch, median [min-max]", ""]
        epochs = epoch_table(frame, task)
        epochs.to_csv(out / f"{name}-epochs.csv", index=False)
        lines += [epochs.to_markdown(index=False), ""]
        totals = totals_table(frame, task)
        if not totals.empty:
            totals.to_csv(out / f"{name}-totals.csv", index=False)
            lines += [
                f"### {name}: compile and projected protocol totals (s)",
                "",
                totals.to_markdown(index=False),
                "",
            ]
        resources = resources_table(frame, task)
        if not resources.empty:
            lines += [f"### {name}: every row's time, compile and peak memory", ""]
            lines += [resources.to_markdown(index=False), ""]
        lines += [f"![{name}]({plot_epochs(frame, task, out).name})", ""]
    if benchmarks:
        lines += [
            "## pytest-benchmark",
            "",
            benchmark_table(list(benchmarks)).to_markdown(index=False),
            "",
        ]
    lines += [_NOTES]
    (out / "report.md").write_text("\n".join(lines))
    return out / "report.md"


def _environment_lines(environment: dict) -> str:
    gpus = "; ".join(environment.get("gpus", [])) or "none"
    return (
        f"Commit `{environment.get('git_commit', '')}`, {environment.get('started_at', '')}. "
        f"CPU: {environment.get('cpu', '')} ({environment.get('cpu_count', '')} cores). GPUs: {gpus}. "
        f"Python {environment.get('python', '')}. Command: `{environment.get('command', '')}`."
    )


_NOTES = """Notes: times are measured by spikebench's harness (device synchronised before every clock
read; compile timed apart; the first epoch is a warm-up; median [min-max] of the timed epochs).
"total s" projects the paper's protocol: compile + epochs x median seconds per epoch, scaled linearly
from the measured sample count to the full training set. Published numbers come from other hardware
(named in the column) and, for mlGeNN, a different model; ratios against them compare machines as
much as software."""
