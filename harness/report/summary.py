"""The table printed at the end of a run: one line per cell, ratios against the reference and the
device's limit (the time's multiple of the dense floor, the fraction of the peak achieved)."""

from __future__ import annotations

import pandas as pd

from harness.cell import size_label
from harness.report.tables import (
    accuracy_cell,
    activity_table,
    busy_note,
    machine_cell,
    memory_columns,
    percent_of_peak,
    times_floor,
)
from harness.report.trajectory import format_trajectories
from harness.report.vacuous import vacuous_comparisons
from harness.results import REFERENCE, Row, frame


def _seconds(value: float | None, digits: int = 3) -> str:
    return "" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def _count(value: int | None) -> str:
    return "" if value is None or pd.isna(value) else str(int(value))


def format_summary(rows: list[Row]) -> str:
    """The human-readable table (seconds; memory in MiB, one column per measurement; the machine
    while each row was timed, BUSY where other processes took enough to make its times suspect)."""
    if not rows:
        return "no results"
    table = frame(rows)
    lines = []
    for _, r in table.iterrows():
        spread = (
            f"{_seconds(r.epoch_s_median)} [{_seconds(r.epoch_s_min)}-{_seconds(r.epoch_s_max)}]"
            if r.epoch_s_median
            else ""
        )
        lines.append(
            {
                "framework": r.framework,
                "status": r.status if r.status == "ok" else f"{r.status}: {r.reason[:60]}",
                "device": r.device,
                "data": r.data,
                "size/B/T/N": f"{size_label(r)}/{r.batch_size}/{r.time_steps}/{_count(r.n_samples)}",
                "compile_s": "" if pd.isna(r.compile_s) else _seconds(r.compile_s, 2),
                "epoch0_s": _seconds(r.first_epoch_s),
                "epoch_s median [min-max]": spread,
                f"x {REFERENCE}": f"{r.vs_reference:.3g}" if pd.notna(r.vs_reference) else "",
                "GFLOP/step": "" if pd.isna(r.flops_per_step) else f"{r.flops_per_step / 1e9:.3g}",
                "x floor": times_floor(r.floor_ratio),
                "% peak": percent_of_peak(r.fraction_of_peak),
                "loss_first_step": "" if pd.isna(r.loss_first_step) else f"{r.loss_first_step:.6f}",
                "train_acc": f"{r.accuracy_per_epoch[-1]:.3f}" if r.accuracy_per_epoch else "",
                "test_acc": accuracy_cell(r),
            }
        )
    shown = pd.DataFrame(lines, index=table.index).join(memory_columns(table))
    shown["machine"] = [machine_cell(r) for _, r in table.iterrows()]
    if table.flops_per_step.isna().all():  # rows from before the limits: nothing to show
        shown = shown.drop(columns=["GFLOP/step", "x floor", "% peak"])
    text = shown.to_string(index=False)
    inexact = table[table.semantics.fillna("") != ""]
    for _, r in inexact.drop_duplicates("framework").iterrows():
        text += f"\n{r.framework} is not the canonical model: {r.semantics}"
    deviations = table.loss_first_step_rel_dev.dropna()
    if len(deviations) > 1:
        text += (
            f"\nloss_first_step: largest relative deviation from {REFERENCE} "
            f"{deviations.max():.2e} (same weights, same first batch)"
        )
    peaks = table.peak_flops_per_s.dropna()
    if len(peaks):
        text += (
            f"\nx floor: seconds per step over the dense floor (the step's matmuls and convolutions "
            f"timed alone on the device); % peak: achieved FLOP/s over the device's float32 matmul "
            f"peak, {peaks.iloc[0] / 1e9:.3g} GFLOP/s (docs/limits.md)"
        )
    if any(r.loss_steps for r in rows):
        text += "\n" + format_trajectories(rows)
    text += format_activity(table)
    warnings = [*vacuous_comparisons(rows), *filter(None, [busy_note(table)])]
    return text + "".join(f"\n{line}" for line in warnings)


def format_activity(table: pd.DataFrame) -> str:
    """Each task's activity table (``harness.report.tables.activity_table``) under a heading, or ""."""
    text = ""
    for task in sorted(table.task.unique()):
        activity = activity_table(table, task)
        if not activity.empty:
            text += f"\n{ACTIVITY_HEADING.format(task=task)}\n{activity.to_string(index=False)}"
    return text


ACTIVITY_HEADING = (
    "{task} activity on the first training batch, initial -> final weights (canonical forward; "
    "spike rate per spiking layer, readout mean |u|, synaptic operations per sample):"
)
