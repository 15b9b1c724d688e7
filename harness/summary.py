"""The table printed at the end of a run: one line per cell, ratios against spyx_core."""

from __future__ import annotations

import pandas as pd

from harness.results import Row

REFERENCE = "spyx_core"
_CONFIG = ["task", "device", "data", "hidden", "width", "batch_size", "time_steps", "n_samples"]


def _seconds(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _size(row) -> str:
    return f"m={row.width}" if row.task == "nmnist" else f"H={row.hidden}"


def summary_frame(rows: list[Row]) -> pd.DataFrame:
    """A tidy frame of the rows, with the epoch-time ratio to spyx_core in the same configuration."""
    frame = pd.DataFrame([r.as_dict() for r in rows])
    if frame.empty:
        return frame
    reference = frame[(frame.framework == REFERENCE) & (frame.status == "ok")]
    ref_time = reference.set_index(_CONFIG)["epoch_s_median"]
    ref_loss = reference.set_index(_CONFIG)["loss_first_step"]
    keys = list(frame[_CONFIG].itertuples(index=False, name=None))
    frame["vs_spyx_core"] = [
        t / ref_time.get(k) if t and ref_time.get(k) else None
        for t, k in zip(frame.epoch_s_median, keys, strict=True)
    ]
    frame["loss_first_step_rel_dev"] = [
        abs(loss - ref_loss.get(k)) / abs(ref_loss.get(k))
        if loss is not None and ref_loss.get(k)
        else None
        for loss, k in zip(frame.loss_first_step, keys, strict=True)
    ]
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
