"""The report's figures (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import NullLocator

from harness.report.published import published
from harness.report.tables import SIZE_LABEL, TABLE, framework_order


def plot_epochs(frame: pd.DataFrame, task: str, out: Path) -> Path:
    """Grouped bars of seconds per epoch (log axis, min-max error bars), published values hatched."""
    part = frame[(frame.task == task) & (frame.status == "ok")]
    configs = sorted(set(zip(part["size"], part.batch_size, strict=True)))
    names = framework_order(part)
    refs = [p for p in published(TABLE.get(task, "")) if p.epoch_s and (p.size, p.batch_size) in configs]
    ref_names = sorted({p.framework + f" ({p.hardware})" for p in refs})
    width = 0.8 / max(1, len(names) + len(ref_names))
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(configs)), 4.5))
    x = np.arange(len(configs))
    for i, name in enumerate(names):
        rows = part[part.framework == name].set_index(["size", "batch_size"])
        # A reduced sample count is shown as its projection to the full epoch (the published
        # numbers are full epochs); the min-max bars scale with it.
        scale = (rows.projected_epoch_s / rows.epoch_s_median).astype(float).fillna(1.0)
        median = [rows.epoch_s_median.get(c, np.nan) * scale.get(c, 1.0) for c in configs]
        low = [
            m - rows.epoch_s_min.get(c, np.nan) * scale.get(c, 1.0)
            for c, m in zip(configs, median, strict=True)
        ]
        high = [
            rows.epoch_s_max.get(c, np.nan) * scale.get(c, 1.0) - m
            for c, m in zip(configs, median, strict=True)
        ]
        ax.bar(x + i * width, median, width, yerr=[low, high], capsize=2, label=name)
    for j, ref in enumerate(ref_names):
        values = {
            (p.size, p.batch_size): p.epoch_s for p in refs if p.framework + f" ({p.hardware})" == ref
        }
        heights = [values.get(c, np.nan) for c in configs]
        ax.bar(x + (len(names) + j) * width, heights, width, hatch="//", fill=False, label=ref)
    ax.set_yscale("log")
    ax.set_xticks(x + width * (len(names) + len(ref_names) - 1) / 2)
    ax.set_xticklabels([f"{SIZE_LABEL.get(task, 'size')}={s} B={b}" for s, b in configs])
    ax.set_ylabel("seconds per full epoch (log; projected where sampled)")
    devices = ", ".join(sorted(part.device_name.unique()))
    ax.set_title(f"{task}: training epoch time on {devices}", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    path = out / f"{TABLE.get(task, task)}.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_micro(frame: pd.DataFrame, out: Path) -> Path:
    """Micro-benchmark scaling against n (log-log): forward+backward time per call (min-max error
    bars; the published anchors dashed, labelled with their hardware) and peak memory."""
    part = frame[(frame.task == "micro") & (frame.status == "ok")]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    for name, rows in part.groupby("framework"):
        rows = rows.sort_values("size")
        left.errorbar(
            rows["size"],
            rows.step_s_median * 1e3,
            yerr=[
                (rows.step_s_median - rows.step_s_min) * 1e3,
                (rows.step_s_max - rows.step_s_median) * 1e3,
            ],
            marker="o",
            capsize=2,
            label=name,
        )
        right.plot(rows["size"], rows.peak_memory_bytes / 2**20, marker="o", label=name)
    anchors: dict[str, list] = {}
    for p in published("micro"):
        anchors.setdefault(f"{p.framework} ({p.hardware})", []).append((p.size, p.epoch_s * 1e3))
    for label, points in anchors.items():
        sizes, ms = zip(*sorted(points), strict=True)
        left.plot(sizes, ms, linestyle="--", marker="x", alpha=0.6, label=label)
    devices = ", ".join(sorted(d for d in part.device_name.unique() if d))
    left.set_title(f"forward+backward per call on {devices or 'unknown device'}", fontsize=9)
    right.set_title("peak memory (sources differ: see the report)", fontsize=9)
    sizes = sorted({*part["size"], *(p.size for p in published("micro"))})
    for axis, label in ((left, "forward+backward ms"), (right, "peak memory MiB")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.xaxis.set_minor_locator(NullLocator())  # the grid's sizes label n, not minor ticks
        axis.set_xticks(sizes, labels=[str(size) for size in sizes])
        axis.set_xlabel("n")
        axis.set_ylabel(label)
        axis.legend(fontsize=7)
    fig.tight_layout()
    path = out / "micro.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
