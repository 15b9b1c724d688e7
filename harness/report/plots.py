"""The report's figures (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import NullLocator

from harness.cell import size_label
from harness.report.published import published
from harness.report.tables import SIZE_LABEL, TABLE, framework_order

MEASURED_STYLE = (("tab:blue", ""), ("tab:orange", ".."), ("tab:green", "--"), ("tab:red", "||"),
                  ("tab:purple", "++"), ("tab:brown", "-."), ("tab:olive", "|o"))  # fmt: skip
PUBLISHED_STYLE = (("#c6dbef", "//"), ("#fdd0a2", "\\\\"), ("#c7e9c0", "xx"), ("#dadaeb", "oo"),
                   ("#fcbba1", "**"), ("#d9d9d9", "OO"), ("#f2f0a1", "/o"))  # fmt: skip
"""(colour, hatch) of each series in turn: measured bars solid colours, published ones pale and
hatched, no colour or hatch used twice in one figure (up to seven series of each)."""
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _styles(names: list[str], palette: tuple[tuple[str, str], ...]) -> dict[str, tuple[str, str]]:
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def plot_epochs(frame: pd.DataFrame, task: str, out: Path, where: str = "") -> Path:
    """Grouped bars of seconds per epoch (log axis, min-max error bars), published values hatched.

    Every series has its own colour and hatch; ``where`` (the machine) goes into the title.
    """
    part = frame[(frame.task == task) & (frame.status == "ok")]
    configs = sorted(set(zip(part["size"], part.batch_size, strict=True)))
    names = framework_order(part)
    refs = [p for p in published(TABLE.get(task, "")) if p.epoch_s and (p.size, p.batch_size) in configs]
    ref_names = sorted({p.framework + f" ({p.hardware})" for p in refs})
    measured, pale = _styles(names, MEASURED_STYLE), _styles(ref_names, PUBLISHED_STYLE)
    width = 0.8 / max(1, len(names) + len(ref_names))
    fig, ax = plt.subplots(figsize=(max(7, 1.7 * len(configs)) + 3.5, 5))
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
        colour, hatch = measured[name]
        ax.bar(x + i * width, median, width, yerr=[low, high], capsize=2, label=f"{name} (this run)",
               color=colour, hatch=hatch, edgecolor="black", linewidth=0.5)  # fmt: skip
    for j, ref in enumerate(ref_names):
        values = {
            (p.size, p.batch_size): p.epoch_s for p in refs if p.framework + f" ({p.hardware})" == ref
        }
        heights = [values.get(c, np.nan) for c in configs]
        colour, hatch = pale[ref]
        ax.bar(x + (len(names) + j) * width, heights, width, color=colour, hatch=hatch,
               edgecolor="black", linewidth=0.5, label=f"{ref}, published")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xticks(x + width * (len(names) + len(ref_names) - 1) / 2)
    label = SIZE_LABEL.get(task, "size")
    ax.set_xticklabels([f"{label}={s}\nB={b}" for s, b in configs])
    ax.set_xlabel(
        f"configuration ({label}: {'hidden neurons' if label == 'H' else 'width'}, B: batch size)"
    )
    ax.set_ylabel("seconds per full epoch (log scale; projected where sampled)")
    devices = ", ".join(sorted(d for d in part.device_name.unique() if d)) or "unknown device"
    data = ", ".join(sorted(part.data.unique()))
    ax.set_title(
        f"{TABLE.get(task, task)} ({task}): training epoch time, this run on {where or devices} "
        f"({data} data)\nbeside published numbers on the hardware named in their legend entries",
        fontsize=10,
    )
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0), handleheight=1.6)
    fig.tight_layout()
    path = out / f"{TABLE.get(task, task)}.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main_memory_source(part: pd.DataFrame) -> str:
    """The memory measurement most rows of ``part`` carry ("" when none is measured)."""
    sources = part.peak_memory_source[part.peak_memory_bytes.notna()]
    return str(sources.mode().iloc[0]) if len(sources) else ""


def plot_micro(frame: pd.DataFrame, out: Path, where: str = "") -> Path:
    """Micro-benchmark scaling against n (log-log): forward+backward time per call (min-max error
    bars; the published anchors dashed, labelled with their hardware) and peak memory, of one
    measurement only (``main_memory_source``; the title names it and counts the rows left out).

    Every series has its own colour and marker, the same in both panels; ``where`` (the machine)
    goes into the title."""
    part = frame[(frame.task == "micro") & (frame.status == "ok")]
    anchors: dict[str, list] = {}
    for p in published("micro"):
        anchors.setdefault(f"{p.framework} ({p.hardware}), published", []).append(
            (p.size, p.epoch_s * 1e3)
        )
    names = framework_order(part)
    memory_source = main_memory_source(part)
    colours = plt.get_cmap("tab10").colors
    style = {n: (colours[i % 10], MARKERS[i % len(MARKERS)]) for i, n in enumerate([*names, *anchors])}
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    for name in names:
        rows = part[part.framework == name].sort_values("size")
        colour, marker = style[name]
        left.errorbar(
            rows["size"],
            rows.step_s_median * 1e3,
            yerr=[
                (rows.step_s_median - rows.step_s_min) * 1e3,
                (rows.step_s_max - rows.step_s_median) * 1e3,
            ],
            marker=marker,
            color=colour,
            capsize=2,
            label=f"{name} (this run)",
        )
        measured = rows[(rows.peak_memory_source == memory_source) & rows.peak_memory_bytes.notna()]
        if not measured.empty:
            memory = measured.peak_memory_bytes / 2**20
            right.plot(measured["size"], memory, marker=marker, color=colour, label=f"{name} (this run)")
    for label, points in anchors.items():
        sizes, ms = zip(*sorted(points), strict=True)
        colour, marker = style[label]
        left.plot(sizes, ms, linestyle="--", marker=marker, color=colour, label=label)
    devices = ", ".join(sorted(d for d in part.device_name.unique() if d)) or "unknown device"
    fig.suptitle(f"micro-benchmark Linear(n, n) + LIF, B=16, T=500: this run on {where or devices}",
                 fontsize=10)  # fmt: skip
    left.set_title("forward+backward per call (published anchors dashed)", fontsize=9)
    left_out = int((part.peak_memory_bytes.notna() & (part.peak_memory_source != memory_source)).sum())
    others = f"\n({left_out} rows measured otherwise are not shown)" if left_out else ""
    right.set_title(f"peak memory: {memory_source or 'not measured'}{others}", fontsize=9)
    sizes = sorted({*part["size"], *(p.size for p in published("micro"))})
    for axis, label in ((left, "milliseconds per forward+backward call"), (right, "peak memory (MiB)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.xaxis.set_minor_locator(NullLocator())  # the grid's sizes label n, not minor ticks
        axis.set_xticks(sizes, labels=[str(size) for size in sizes])
        axis.set_xlabel("n (neurons per layer, log scale)")
        axis.set_ylabel(label)
    # Below the axes, so that no legend hides a line.
    left.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.15), ncol=2)
    right.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.15))
    fig.tight_layout()
    path = out / "micro.png"
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_trajectories(table: pd.DataFrame, reference: str, path: Path, where: str = "") -> Path:
    """The loss traces of one configuration's compared rows beside the reference's (top) and
    their relative deviation per step on a log axis (bottom); ``table`` is ``trajectories``'."""
    figure, (losses, deviations) = plt.subplots(2, 1, figsize=(8, 6.5), sharex=True)
    ref = table.iloc[0].reference_row
    losses.plot(ref.loss_steps, color="black", linewidth=2.5, label=f"{reference} (reference)")
    for (_, line), colour in zip(table.iterrows(), plt.cm.tab10.colors, strict=False):
        label = f"{line.framework}: {line.verdict}" + ("" if line.exact else " (inexact)")
        losses.plot(line.row.loss_steps, color=colour, linestyle="--", label=label)
        deviations.semilogy(np.maximum(line.reference_deviation, 1e-12), color=colour, label=label)
        if pd.notna(line.first_step):
            deviations.axvline(line.first_step, color=colour, linestyle=":", linewidth=1)
    deviations.axhline(table.attrs.get("rtol", 1e-4), color="grey", linestyle="-.", label="tolerance")
    losses.set_ylabel("training loss per step")
    deviations.set_ylabel("|loss - reference| / |reference|")
    deviations.set_xlabel("training step (all epochs, warm-up first)")
    losses.legend(fontsize=8)
    deviations.legend(fontsize=8)
    size = size_label(ref)
    what = f"{ref.task} {size} B={ref.batch_size} T={ref.time_steps}, {ref.data} data"
    losses.set_title(f"Loss trajectories against {reference}: {what}" + (f"\n{where}" if where else ""))
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def plot_limits(frame: pd.DataFrame, task: str, out: Path, where: str = "") -> Path:
    """Roofline-style bars: each framework's achieved GFLOP/s per configuration (log axis), the
    rate of the configuration's dense floor (its FLOPs over the floor's seconds: the step's matmuls
    and convolutions alone) as a black tick over its group, and the device's matmul peak dashed."""
    part = frame[(frame.task == task) & (frame.status == "ok")]
    configs = sorted(set(zip(part["size"], part.batch_size, part.time_steps, strict=True)))
    names = framework_order(part)
    styles = _styles(names, MEASURED_STYLE)
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(max(7, 1.7 * len(configs)) + 3.5, 5))
    x = np.arange(len(configs))
    for i, name in enumerate(names):
        rows = part[part.framework == name].set_index(["size", "batch_size", "time_steps"])
        rates = [rows.achieved_flops_per_s.get(c, np.nan) / 1e9 for c in configs]
        colour, hatch = styles[name]
        ax.bar(x + i * width, rates, width, label=name, color=colour, hatch=hatch,
               edgecolor="black", linewidth=0.5)  # fmt: skip
    floors = part.assign(rate=part.flops_per_step / part.dense_floor_s / 1e9)
    floor_rates = floors.groupby(["size", "batch_size", "time_steps"]).rate.median()
    ticks = [floor_rates.get(c, np.nan) for c in configs]
    centres = x + width * (len(names) - 1) / 2
    ax.hlines(ticks, x - width / 2, x + width * (len(names) - 0.5), color="black", linewidth=2,
              label="dense floor rate (FLOPs / floor s)", zorder=3)  # fmt: skip
    peaks = part.peak_flops_per_s.dropna()
    if len(peaks):
        ax.axhline(peaks.median() / 1e9, color="tab:red", linestyle="--", label="device peak")
    ax.set_yscale("log")
    ax.set_xticks(centres)
    label = SIZE_LABEL.get(task, "size")
    ax.set_xticklabels([f"{label}={s}\nB={b} T={t}" for s, b, t in configs])
    ax.set_ylabel("achieved GFLOP/s: matmul and conv FLOPs / s per step (log scale)")
    devices = ", ".join(sorted(d for d in part.device_name.unique() if d)) or "unknown device"
    ax.set_title(
        f"{TABLE.get(task, task)} ({task}): achieved rate against the device's limit, "
        f"on {where or devices}\npeak: float32 square matmul; floor: the step's own matmuls and "
        "convolutions timed alone",
        fontsize=10,
    )
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    path = out / f"{TABLE.get(task, task)}-limits.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
