"""``spikebench report``: the paper's tables (markdown + CSV) and plots from a results folder.

Every table and plot reads one frame, ``harness.results.frame`` (``Row``'s fields plus ``size`` and
the factors against ``harness.results.REFERENCE``): ``tables`` builds the tables, ``plots`` the
figures, ``summary`` the table a run prints, ``published`` holds the published numbers they are
set beside (docs/published-numbers.md).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from harness.report.tables import (
    TABLE,
    activity_table,
    benchmark_table,
    busy_note,
    compiled_table,
    epoch_table,
    evaluated,
    limits_table,
    micro_details_table,
    micro_table,
    resources_table,
    totals_table,
)
from harness.report.vacuous import vacuous_comparisons
from harness.results import REFERENCE, read_results
from harness.results import frame as results_frame

__all__ = ["write_report"]


def write_report(folder: Path, out: Path | None = None, benchmarks: list[Path] = ()) -> Path:
    """Writes ``report.md``, CSV tables and PNG plots for the results in ``folder``."""
    from harness.report.plots import plot_epochs  # matplotlib only when reporting

    rows, environment = read_results(folder)
    out = Path(out or folder)
    out.mkdir(parents=True, exist_ok=True)
    frame = results_frame(rows)
    frame.to_csv(out / "report.csv", index=False)
    lines = [f"# spikebench report: {folder}", "", _environment_lines(environment), ""]
    note = busy_note(frame) if not frame.empty else None
    lines += [note, ""] if note else []
    for task in sorted(frame.task.unique()) if not frame.empty else []:
        if task == "micro":
            lines += _micro_section(frame, out, machine(environment))
            continue
        name = TABLE.get(task, task)
        lines += [f"## {name} ({task}): seconds per epoch, median [min-max]", ""]
        epochs = epoch_table(frame, task)
        epochs.to_csv(out / f"{name}-epochs.csv", index=False)
        lines += [epochs.to_markdown(index=False), ""]
        lines += _accuracy_note(frame[frame.task == task])
        totals = totals_table(frame, task)
        if not totals.empty:
            totals.to_csv(out / f"{name}-totals.csv", index=False)
            lines += [
                f"### {name}: compile and projected protocol totals (s)",
                "",
                totals.to_markdown(index=False),
                "",
            ]
        compiled = compiled_table(frame, task)
        if not compiled.empty:
            compiled.to_csv(out / f"{name}-compiled.csv", index=False)
            lines += [f"### {name}: eager and compiled, side by side", "", _COMPILED_NOTE, ""]
            lines += [compiled.to_markdown(index=False), ""]
        resources = resources_table(frame, task)
        if not resources.empty:
            lines += [f"### {name}: every row's time, compile and peak memory", ""]
            lines += [resources.to_markdown(index=False), "", _MEMORY_NOTE, ""]
        lines += _activity_section(frame, [r for r in rows if r.task == task], out, name)
        lines += [f"![{name}]({plot_epochs(frame, task, out, machine(environment)).name})", ""]
        lines += _limits_section(frame, task, out, machine(environment))
        lines += _trajectory_section([r for r in rows if r.task == task], out, machine(environment))
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


def _accuracy_note(part: pd.DataFrame) -> list[str]:
    """What the ``test acc`` columns measure, as report lines (none when no row evaluated)."""
    if not evaluated(part):
        return []
    sizes = ", ".join(str(int(n)) for n in sorted(part.test_samples.dropna().unique()))
    return [
        f"`test acc`: accuracy on the whole test split ({sizes or '?'} samples) after the row's own "
        "epochs on its own training samples (not the paper's protocol); blank where the row did not "
        "evaluate (the synthetic twin by default, `--no-evaluate`) or did not finish.",
        "",
    ]


def _activity_section(frame: pd.DataFrame, rows: list, out: Path, name: str) -> list[str]:
    """The task's activity table (``activity_table``) and its vacuous comparisons, as lines."""
    table = activity_table(frame, rows[0].task) if rows else pd.DataFrame()
    if table.empty:
        return []
    table.to_csv(out / f"{name}-activity.csv", index=False)
    warnings = [f"- {line}" for line in vacuous_comparisons(rows)]
    return [
        f"### {name}: activity on the first training batch, initial -> final weights",
        "",
        _ACTIVITY_NOTE,
        "",
        table.to_markdown(index=False),
        "",
        *([*warnings, ""] if warnings else []),
    ]


_ACTIVITY_NOTE = (
    "Computed by the canonical forward (spyx_core, float32 on the CPU) at each row's weights: "
    "the spike rate of every spiking layer (spikes per neuron-time-step), the readout's mean |u|, "
    "and NeuroBench's synaptic operations per sample (effective ACs, effective MACs, dense); "
    "docs/activity.md defines them."
)


def _trajectory_section(rows: list, out: Path, where: str) -> list[str]:
    """Each row's loss trace against the reference's (``harness.report.trajectory``), as lines."""
    from harness.report.trajectory import RTOL, trajectories

    if not any(r.framework == REFERENCE and r.loss_steps for r in rows):
        return []
    table = trajectories(rows)
    if table.empty:
        return []
    columns = ["framework", "exact", "verdict", "steps", "first_step", "deviation", "max_deviation"]
    shown = table[columns].assign(agrees_with=table.agrees_with.map(", ".join))
    task = rows[0].task
    shown.to_csv(out / f"trajectory-{task}.csv", index=False)
    return [
        f"### {task}: loss trajectories against {REFERENCE} (relative tolerance {RTOL:g})",
        "",
        "A drift grows from rounding level step by step; a departure jumps (or starts at step 0). "
        "A spike flipping at its threshold also makes a jump: `agrees_with` names the frameworks "
        "whose traces follow this one to the end (one shared difference from the reference).",
        "",
        shown.to_markdown(index=False),
        "",
        *_trajectory_plots(table, out, task, where),
    ]


def _trajectory_plots(table: pd.DataFrame, out: Path, task: str, where: str) -> list[str]:
    """One plot per configuration (the first ``MAX_TRAJECTORY_PLOTS``), as report lines."""
    from harness.report.plots import plot_trajectories

    keys = table.reference_row.map(lambda r: r.config_key())
    lines = []
    for index, key in enumerate(list(dict.fromkeys(keys))[:MAX_TRAJECTORY_PLOTS]):
        path = out / f"trajectory-{task}-{index}.png"
        part = table[keys == key]
        part.attrs = table.attrs
        lines += [f"![trajectory]({plot_trajectories(part, REFERENCE, path, where).name})", ""]
    return lines


MAX_TRAJECTORY_PLOTS = 6
"""A grid of many configurations gets the trajectory plots of its first few."""


def machine(environment: dict) -> str:
    """The machine a run measured on, for plot titles: CPU model and cores, and its GPUs."""
    cpu = f"{environment.get('cpu') or 'unknown CPU'} ({environment.get('cpu_count', '?')} cores)"
    gpus = "; ".join(environment.get("gpus", []))
    return f"{cpu}, {gpus}" if gpus else cpu


def _environment_lines(environment: dict) -> str:
    gpus = "; ".join(environment.get("gpus", [])) or "none"
    return (
        f"Commit `{environment.get('git_commit', '')}`, {environment.get('started_at', '')}. "
        f"CPU: {environment.get('cpu', '')} ({environment.get('cpu_count', '')} cores). GPUs: {gpus}. "
        f"Python {environment.get('python', '')}. Command: `{environment.get('command', '')}`."
        + _timing_variables_line(environment)
    )


def _timing_variables_line(environment: dict) -> str:
    """The variables that change timing the run was started with (``harness.environment``), as a
    sentence; nothing when none was set."""
    variables = environment.get("timing_variables") or {}
    if not variables:
        return ""
    listed = ", ".join(f"`{name}={value}`" for name, value in variables.items())
    return f" Started with {listed}."


_MEMORY_NOTE = (
    "Each memory column names its measurement; compare columns of the same measurement only. "
    "`peak RSS above baseline`: the worker's peak resident set above the one it had just before "
    "the model was built, the same measurement for every framework (compile included); on a GPU "
    "each framework's allocator peak (docs/memory.md)."
)

_COMPILED_NOTE = (
    "Speed-up: eager over compiled seconds per epoch (medians of the timed epochs). Break-even "
    "epochs: compile s / (eager - compiled epoch s), the epochs of this size after which compiling "
    "has paid for itself; never when the compiled epoch is not faster. Graphs, graph breaks and "
    "recompilations are dynamo's, counted over the compile and every epoch."
)

_NOTES = """Notes: times are measured by spikebench's harness (device synchronised before every clock
read; compile timed apart; the first epoch is a warm-up; median [min-max] of the timed epochs).
"total s" projects the paper's protocol: compile + epochs x median seconds per epoch, scaled linearly
from the measured sample count to the full training set. Published numbers come from other hardware
(named in the column) and, for mlGeNN, a different model; ratios against them compare machines as
much as software."""


def _micro_section(frame: pd.DataFrame, out: Path, where: str) -> list[str]:
    """The micro-benchmark's tables, memory sources and plot, as report lines."""
    from harness.report.plots import plot_micro  # matplotlib only when reporting

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
        lines += [
            "### micro: timed calls, compile and peak memory",
            "",
            details.to_markdown(index=False),
            "",
            _MEMORY_NOTE,
            "",
        ]
    return [*lines, f"![micro]({plot_micro(frame, out, where).name})", "",
            *_limits_section(frame, "micro", out, where)]  # fmt: skip


def _limits_section(frame: pd.DataFrame, task: str, out: Path, where: str) -> list[str]:
    """Every ok row against the device's limit (``limits_table``) and its plot, as report lines;
    nothing when no row of ``task`` has its FLOPs."""
    from harness.report.plots import plot_limits

    part = frame[frame.task == task]
    if part.flops_per_step.isna().all():
        return []
    name = TABLE.get(task, task)
    table = limits_table(frame, task)
    table.to_csv(out / f"{name}-limits.csv", index=False)
    return [
        f"### {name}: against the device's limit",
        "",
        _LIMITS_NOTE + (_WARM_NOTE if "x warm floor" in table else ""),
        "",
        table.to_markdown(index=False),
        "",
        f"![{name} limits]({plot_limits(frame, task, out, where).name})",
        "",
    ]


_LIMITS_NOTE = (
    "FLOPs: the step's matmuls and convolutions, forward, weight gradients and input gradients "
    "(2 per multiply-add; elementwise work not counted). Dense floor: those ops timed alone at "
    "their shapes on the device, summed; x floor: seconds per step over it. % peak: achieved "
    "FLOP/s over the device's float32 square-matmul rate. Both measured by the run after its "
    "cells (docs/limits.md)."
)


_WARM_NOTE = (
    " Warm floor: the same ops, each writing into its previous output instead of a new buffer; on "
    "the CPU a new buffer pays page faults a compiled epoch pays once per epoch call."
)


_MICRO_PROTOCOL = (
    "Input: the same seeded Bernoulli(0.1) spikes for every framework, B=16. `forward`: one "
    "call without gradient tracking; `fwd+bwd`: the forward and `output.sum()`'s backward to every "
    "trained parameter (gradients from zero). Compile and warm-up calls apart; each call timed "
    "alone between device synchronisations; median [min-max] of N calls (N below). The published "
    "anchors are one run on another machine (named in the column), median of 10: ratios against "
    "them compare machines as much as software."
)
