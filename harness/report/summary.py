"""The table printed at the end of a run: one line per cell, ratios against the reference."""

from __future__ import annotations

import math

import pandas as pd

from frameworks.spec import NMNIST_CLASSES, SHD_CLASSES
from harness.cell import size_label
from harness.report.tables import busy_note, machine_cell, memory_columns
from harness.report.trajectory import format_trajectories
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
                "loss_first_step": "" if pd.isna(r.loss_first_step) else f"{r.loss_first_step:.6f}",
                "train_acc": f"{r.accuracy_per_epoch[-1]:.3f}" if r.accuracy_per_epoch else "",
            }
        )
    shown = pd.DataFrame(lines, index=table.index).join(memory_columns(table))
    shown["machine"] = [machine_cell(r) for _, r in table.iterrows()]
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
    if any(r.loss_steps for r in rows):
        text += "\n" + format_trajectories(rows)
    warnings = [*vacuous_first_losses(rows), *filter(None, [busy_note(table)])]
    return text + "".join(f"\n{line}" for line in warnings)


CLASSES = {"shd": SHD_CLASSES, "nmnist": NMNIST_CLASSES}
UNIFORM_RTOL = 1e-4
"""How close to ln K a first-step loss must be to count as uniform logits: the tolerance of the
first-step loss comparison, within which a network whose readout is exactly 0 would pass it."""


def vacuous_first_losses(rows: list[Row]) -> list[str]:
    """Warnings for configurations whose reference first-step loss is ln K: the logits are uniform
    (the readout is about 0, e.g. a silent hidden layer), so any implementation would agree on it.

    With label smoothing too, the cross-entropy of uniform logits is exactly ln K."""
    warnings = []
    for row in rows:
        classes = CLASSES.get(row.task)
        if row.framework != REFERENCE or row.loss_first_step is None or classes is None:
            continue
        if abs(row.loss_first_step - math.log(classes)) <= UNIFORM_RTOL * math.log(classes):
            cell = f"{row.task} {size_label(row)} B={row.batch_size} T={row.time_steps}"
            uniform = f"ln {classes} = {math.log(classes):.6f}"
            warnings.append(
                f"vacuous: {cell}: the first-step loss is {uniform} (uniform logits: the readout is "
                "about 0), so its agreement holds for any implementation; compare the later steps"
            )
    return warnings
