"""History: the same cells over several results folders (e.g. one per commit), time against commit.

Each folder is one point on the x axis, in the order given, labelled with its rows' ``git_commit``
(shortened; the folder's name where none was recorded). Each cell, matched across folders by its
framework and ``config_key``, is one line: the median time with its min-max spread as error bars
(seconds per epoch; a micro row's seconds per forward+backward call).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from harness.cell import size_label
from harness.report import machine
from harness.report.plots import MARKERS
from harness.results import frame, read_results

_STEMS = {"micro": "step_s"}
"""The timed statistic of each task (``{stem}_median``, ``_min``, ``_max``); others ``epoch_s``."""


def _commit(folder: Path, rows) -> str:
    commits = sorted({row.git_commit for row in rows if row.git_commit})
    return ",".join(c[:10] for c in commits) or folder.name


def history_frame(folders: list[Path]) -> pd.DataFrame:
    """One record per folder and ok cell: ``commit``, ``cell``, ``median``, ``min``, ``max`` (s)."""
    records = []
    for index, folder in enumerate(folders, start=1):
        rows, _ = read_results(folder)
        commit = f"{index}. {_commit(folder, rows)}\n({folder.name})"
        for r in frame(rows).itertuples():
            if r.status != "ok":
                continue
            stem = _STEMS.get(r.task, "epoch_s")
            size = size_label(r)
            cell = f"{r.framework} {r.task} {size} B={r.batch_size} T={r.time_steps} N={r.n_samples}"
            values = {k: getattr(r, f"{stem}_{k}") for k in ("median", "min", "max")}
            records.append({"commit": commit, "cell": cell, **values})
    return pd.DataFrame.from_records(records, columns=["commit", "cell", "median", "min", "max"])


def write_history(folders: list[Path], out: Path) -> Path:
    """Writes ``history.md``, ``history.csv`` and ``history.png`` into ``out``; returns the markdown."""
    out.mkdir(parents=True, exist_ok=True)
    table = history_frame(folders)
    table.to_csv(out / "history.csv", index=False)
    commits = list(dict.fromkeys(table.commit))
    fig, ax = plt.subplots(figsize=(max(7, 1.4 * len(commits)) + 4, 5))
    colours = plt.get_cmap("tab10").colors
    for i, (cell, points) in enumerate(table.groupby("cell", sort=True)):
        x = [commits.index(c) for c in points.commit]
        spread = [points["median"] - points["min"], points["max"] - points["median"]]
        style = {"marker": MARKERS[i % len(MARKERS)], "color": colours[i % 10], "capsize": 3}
        ax.errorbar(x, points["median"], yerr=spread, label=cell, **style)
    ax.set_xticks(range(len(commits)), labels=commits, fontsize=8)
    ax.set_xlabel("commit (results folder), in the order given")
    ax.set_ylabel("seconds (per epoch; micro: per fwd+bwd call), log scale")
    ax.set_yscale("log")
    machines = ", ".join(sorted({machine(read_results(folder)[1]) for folder in folders}))
    ax.set_title(f"time per cell against commit on {machines}: median, min-max bars", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(out / "history.png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    triples = zip(table["median"], table["min"], table["max"], strict=True)
    wide = table.assign(spread=[f"{m:.3g} [{lo:.3g}-{hi:.3g}]" for m, lo, hi in triples])
    wide = wide.pivot(index="cell", columns="commit", values="spread").reindex(columns=commits)
    wide.columns = [c.replace("\n", " ") for c in wide.columns]
    lines = ["# spikebench history: seconds, median [min-max]", "", wide.fillna("").to_markdown(), "",
             "![history](history.png)", ""]  # fmt: skip
    (out / "history.md").write_text("\n".join(lines))
    return out / "history.md"
