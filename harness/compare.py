"""Base against new: each cell's timing samples compared with a rank test and a factor.

The decision rule (docs/regression.md) is asv's: a cell changed only when the two-sided
Mann-Whitney U test gives ``p < alpha`` (default 0.002) AND the ratio of the medians passes the
factor (default 1.1). Verdicts:

- ``inconclusive``: too few samples for the test ever to reach ``alpha`` (the smallest two-sided
  exact p of n + m samples is 2 / C(n + m, n): 6 + 6 cannot go below 0.0022, 7 + 7 can), or the
  ratio passes the factor but the test does not reject (the factor and the test disagree).
- ``same``: the ratio lies within the factor (any change is smaller than what counts).
- ``slower`` / ``faster``: the ratio passes the factor and ``p < alpha``.

A cell measured on a busy machine on either side (a row's ``busy`` flag, ``harness.machine``) is
``inconclusive`` whatever its samples say: another process's load moves the times by more than
the factor (docs/regression.md). Where a side holds one row per fresh process (``--interleave``),
its busy rows are left out instead and the quiet ones decide: the flag comes from the machine's
clocks, not from the times, so leaving them out selects nothing by outcome; the ``why`` column
counts them, and too few quiet rows left make the cell ``inconclusive`` by the sample rule.

Cells are matched by their whole definition, ``Sample.definition``: configuration, framework,
versions and device; where the two sides hold a cell of the same framework and task that differs
in its definition, the comparison is refused, naming the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from scipy.stats import mannwhitneyu

from harness.cell import size_label
from harness.errors import SpikebenchError
from harness.results import CONFIG_FIELDS, Row, read_results

FACTOR = 1.1
ALPHA = 0.002
VERDICTS = ("faster", "slower", "same", "inconclusive")


class DefinitionMismatch(SpikebenchError):
    """The two sides hold a cell whose definition differs (the message names the field)."""


@dataclass(frozen=True)
class Samples:
    """One cell's timing samples (seconds) and the definition that makes two cells comparable."""

    label: str  # what a reader calls the cell
    group: tuple[str, str]  # (framework, task): cells that should exist on both sides
    definition: tuple[tuple[str, Any], ...]  # every field that must be equal to compare
    seconds: tuple[float, ...]
    busy: bool = False  # the samples include a row measured on a busy machine
    busy_left_out: int = 0  # rows (processes) left out because they were measured on a busy machine


@dataclass(frozen=True)
class Verdict:
    label: str
    base: Samples
    new: Samples
    ratio: float  # median(new) / median(base)
    p: float | None  # None where the test could never reach alpha
    verdict: str
    why: str


def _row_label(row: Row) -> str:
    size = size_label(row)
    return f"{row.framework} {row.task} {size} B={row.batch_size} T={row.time_steps}"


def _row_definition(row: Row) -> tuple[tuple[str, Any], ...]:
    config = [(name, getattr(row, name)) for name in CONFIG_FIELDS]
    versions = [(f"versions[{k}]", v) for k, v in sorted(row.versions.items())]
    return (*config, ("device_name", row.device_name), *versions)


def _row_seconds(row: Row) -> list[float]:
    """A training row's timed epochs (the warm-up left out); a micro row's median fwd+bwd call
    (its per-call times are not kept)."""
    if row.task == "micro":
        return [row.step_s_median] if row.step_s_median is not None else []
    return list(row.epoch_s_all[len(row.epoch_s_all) - row.timed_epochs :]) if row.timed_epochs else []


def _median(values: list[float]) -> float:
    return float(pd.Series(values).median())


def folder_samples(folder: Path) -> list[Samples]:
    """The ok cells of a results folder and their samples.

    One row of a cell: its timed epochs are the samples (one process). Several rows of the same
    cell (``--interleave`` writes one per fresh process): each row's median is one sample.
    """
    rows, _ = read_results(folder)
    by_cell: dict[tuple, list[Row]] = {}
    for row in rows:
        if row.status == "ok":
            by_cell.setdefault(_row_definition(row), []).append(row)
    return [_cell_samples(definition, group) for definition, group in by_cell.items()]


def _cell_samples(definition: tuple, group: list[Row]) -> Samples:
    """One cell's samples: one row's timed epochs, or each quiet row's median (module docstring)."""
    first = group[0]
    quiet = [row for row in group if row.busy is not True]
    if len(group) > 1 and quiet:  # a sample per process: the busy processes are left out
        kept, busy = quiet, False
    else:  # one process, or none quiet: the samples stand, flagged when any row is busy
        kept, busy = group, len(quiet) < len(group)
    if len(group) == 1:
        seconds = _row_seconds(first)
    else:
        seconds = [_median(s) for s in map(_row_seconds, kept) if s]
    group_key, left_out = (first.framework, first.task), len(group) - len(kept)
    return Samples(_row_label(first), group_key, definition, tuple(seconds), busy, left_out)


def benchmark_samples(path: Path) -> list[Samples]:
    """pytest-benchmark JSON (``--benchmark-json``, or ``--benchmark-autosave`` with
    ``--benchmark-save-data``): each benchmark's rounds, ``stats.data``, are its samples.

    Raises:
        SpikebenchError: unreadable JSON, or a benchmark without its rounds' data.
    """
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise SpikebenchError(f"cannot read pytest-benchmark JSON {path}: {error}") from None
    cpu = document.get("machine_info", {}).get("cpu", {}).get("brand_raw", "")
    out = []
    for bench in document.get("benchmarks", []):
        data = bench.get("stats", {}).get("data")
        name = bench.get("fullname") or bench["name"]
        if not data:
            raise SpikebenchError(
                f"{path}: benchmark {name} has no rounds' data; save with --benchmark-json, or "
                "--benchmark-autosave --benchmark-save-data"
            )
        params = sorted((f"params[{k}]", json.dumps(v)) for k, v in (bench.get("params") or {}).items())
        definition = (("benchmark", name), *params, ("machine cpu", cpu))
        out.append(Samples(name, (name, "pytest-benchmark"), definition, tuple(map(float, data))))
    return out


def load_samples(path: Path) -> list[Samples]:
    """A results folder, or a pytest-benchmark JSON file, as samples."""
    path = Path(path)
    if path.is_file():
        return benchmark_samples(path)
    return folder_samples(path)


def min_two_sided_p(n: int, m: int) -> float:
    """The smallest p the exact two-sided Mann-Whitney U test can give with ``n`` and ``m`` samples."""
    return min(1.0, 2 / math.comb(n + m, n)) if n and m else 1.0


def decide(
    base: list[float], new: list[float], *, factor: float = FACTOR, alpha: float = ALPHA
) -> tuple[float, float | None, str, str]:
    """``(ratio, p, verdict, why)`` of two sample sets by the module's rule."""
    ratio = _median(new) / _median(base) if base and new else math.nan
    if min_two_sided_p(len(base), len(new)) >= alpha:
        return ratio, None, "inconclusive", f"{len(base)}+{len(new)} samples cannot reach p < {alpha:g}"
    p = float(mannwhitneyu(new, base, alternative="two-sided").pvalue)
    if 1 / factor < ratio < factor:
        return ratio, p, "same", f"within x{factor:g}"
    if p >= alpha:
        return ratio, p, "inconclusive", f"beyond x{factor:g} but p >= {alpha:g}"
    return ratio, p, ("slower" if ratio > 1 else "faster"), f"beyond x{factor:g}, p < {alpha:g}"


def _difference(base: Samples, new: Samples) -> str:
    """The first differing fields of two definitions, as ``name: base -> new``."""
    old, now = dict(base.definition), dict(new.definition)
    names = [name for name in dict.fromkeys([*old, *now]) if old.get(name) != now.get(name)]
    return "; ".join(f"{name}: {old.get(name)!r} -> {now.get(name)!r}" for name in names)


def match(base: list[Samples], new: list[Samples]) -> tuple[list[tuple[Samples, Samples]], list[str]]:
    """Pairs of equal definitions, and notes on cells only one side has.

    Raises:
        DefinitionMismatch: a framework and task has unmatched cells on both sides (the cell's
            definition changed); the message names the fields.
    """
    old = {s.definition: s for s in base}
    now = {s.definition: s for s in new}
    pairs = [(old[d], now[d]) for d in now if d in old]
    only_base = [s for d, s in old.items() if d not in now]
    only_new = [s for d, s in now.items() if d not in old]
    for cell in only_new:
        changed = [s for s in only_base if s.group == cell.group]
        if changed:
            raise DefinitionMismatch(
                f"refusing to compare {cell.label}: its definition differs "
                f"({_difference(changed[0], cell)}); compare runs of the same cells"
            )
    notes = [f"only in base: {s.label}" for s in only_base]
    return pairs, notes + [f"only in new: {s.label}" for s in only_new]


def compare(
    base: list[Samples], new: list[Samples], *, factor: float = FACTOR, alpha: float = ALPHA
) -> tuple[list[Verdict], list[str]]:
    """Every matched cell's verdict, and the notes of ``match``."""
    pairs, notes = match(base, new)
    verdicts = []
    for old, now in pairs:
        ratio, p, verdict, why = decide(list(old.seconds), list(now.seconds), factor=factor, alpha=alpha)
        sides = (("base", old), ("new", now))
        busy = [side for side, samples in sides if samples.busy]
        if busy:
            verdict, why = "inconclusive", f"{' and '.join(busy)} measured on a busy machine"
        left_out = [f"{side} {s.busy_left_out}" for side, s in sides if s.busy_left_out]
        if left_out:
            why += f"; busy processes left out: {', '.join(left_out)}"
        verdicts.append(Verdict(now.label, old, now, ratio, p, verdict, why))
    return verdicts, notes


def _seconds(values: tuple[float, ...]) -> str:
    return f"{_median(list(values)):.4g}" if values else ""


_COLUMNS: dict[str, Callable[[Verdict], str]] = {
    "cell": lambda v: v.label,
    "base s (median)": lambda v: _seconds(v.base.seconds),
    "new s (median)": lambda v: _seconds(v.new.seconds),
    "new / base": lambda v: f"{v.ratio:.3f}",
    "samples": lambda v: f"{len(v.base.seconds)}+{len(v.new.seconds)}",
    "p (Mann-Whitney U)": lambda v: "" if v.p is None else f"{v.p:.2g}",
    "verdict": lambda v: f"**{v.verdict}**" if v.verdict == "slower" else v.verdict,
    "why": lambda v: v.why,
}


def markdown(verdicts: list[Verdict], notes: list[str], *, factor: float, alpha: float) -> str:
    """The comparison as a markdown table, the rule and the notes under it."""
    table = pd.DataFrame([{name: cell(v) for name, cell in _COLUMNS.items()} for v in verdicts])
    text = table.to_markdown(index=False) if verdicts else "no cells in common"
    rule = (
        f"Rule: a cell changed when the two-sided Mann-Whitney U test gives p < {alpha:g} and the "
        f"median ratio passes x{factor:g}; within the factor it is the same; otherwise inconclusive."
    )
    return "\n".join([text, "", rule, *(f"- {note}" for note in notes)])


def exit_status(verdicts: list[Verdict]) -> int:
    """1 when any cell is significantly slower beyond the factor, else 0."""
    return 1 if any(v.verdict == "slower" for v in verdicts) else 0
