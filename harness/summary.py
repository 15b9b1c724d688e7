"""The table printed at the end of a run: one line per cell, ratios against spyx_core."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from harness.results import Row

REFERENCE = "spyx_core"
_CONFIG = ["task", "device", "data", "hidden", "width", "batch_size", "time_steps", "n_samples"]


def _seconds(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _size(row) -> str:
    return f"m={row.width}" if row.task == "nmnist" else f"H={row.hidden}"


def relative_to_reference(
    frame: pd.DataFrame,
    column: str,
    keys: list[str],
    relation: Callable[[float, float], float],
) -> list[float | None]:
    """``relation(value, reference value)`` for every row, the reference being spyx_core's ok row
    of the same configuration (``keys``); None where either is missing or the reference is 0."""
    reference = frame[(frame.framework == REFERENCE) & (frame.status == "ok")]
    by_config = reference.set_index(keys)[column]
    configs = frame[keys].itertuples(index=False, name=None)
    return [
        relation(value, by_config.get(k)) if pd.notna(value) and by_config.get(k) else None
        for value, k in zip(frame[column], configs, strict=True)
    ]


def summary_frame(rows: list[Row]) -> pd.DataFrame:
    """A tidy frame of the rows, with the epoch-time ratio to spyx_core in the same configuration."""
    frame = pd.DataFrame([r.as_dict() for r in rows])
    if frame.empty:
        return frame
    frame["vs_spyx_core"] = relative_to_reference(
        frame, "epoch_s_median", _CONFIG, lambda value, ref: value / ref
    )
    frame["loss_first_step_rel_dev"] = relative_to_reference(
        frame, "loss_first_step", _CONFIG, lambda value, ref: abs(value - ref) / abs(ref)
    )
    return frame


def format_summary(rows: list[Row]) -> str:
    """The human-readable table (seconds; memory in MiB)."""
    frame = summary_frame(rows)
    if frame.empty:
        return "no results"
    lines = []
    for _, r in frame.iterrows():
        spread = (
            f"{_seconds(r.epoch_s_median)} [{_seconds(r.epoch_s_min)}-{_seconds(r.epoch_s_max)}]"
            if r.epoch_s_median
            else ""
        )
        memory = f"{r.peak_memory_bytes / 2**20:.0f}" if r.peak_memory_bytes else ""
        lines.append(
            {
                "framework": r.framework,
                "status": r.status if r.status == "ok" else f"{r.status}: {r.reason[:60]}",
                "device": r.device,
                "data": r.data,
                "size/B/T/N": f"{_size(r)}/{r.batch_size}/{r.time_steps}/{r.n_samples}",
                "compile_s": "" if pd.isna(r.compile_s) else _seconds(r.compile_s, 2),
                "epoch0_s": _seconds(r.first_epoch_s),
                "epoch_s median [min-max]": spread,
                "x spyx_core": f"{r.vs_spyx_core:.3g}" if pd.notna(r.vs_spyx_core) else "",
                "loss_first_step": "" if pd.isna(r.loss_first_step) else f"{r.loss_first_step:.6f}",
                "train_acc": f"{r.accuracy_per_epoch[-1]:.3f}" if r.accuracy_per_epoch else "",
                "peak_MiB": memory,
            }
        )
    table = pd.DataFrame(lines).to_string(index=False)
    inexact = frame[frame.semantics.fillna("") != ""] if "semantics" in frame else frame[:0]
    for _, r in inexact.drop_duplicates("framework").iterrows():
        table += f"\n{r.framework} is not the canonical model: {r.semantics}"
    deviations = frame.loss_first_step_rel_dev.dropna()
    if len(deviations) > 1:
        table += (
            f"\nloss_first_step: largest relative deviation from {REFERENCE} "
            f"{deviations.max():.2e} (same weights, same first batch)"
        )
    return table
