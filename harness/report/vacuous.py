"""Warnings for comparisons that hold for any implementation: the network computes (about) nothing.

Two frameworks that agree on a network whose hidden layer never spikes, or whose readout is about
0, agree because everything after the silence is 0, not because they compute the same model. Three
signs, each a warning line that names the configuration: the reference's first-step loss is ln K
(uniform logits); a spiking layer is silent (``SILENT_RATE``) on the first training batch, at the
initial weights or at a framework's final weights; the readout is about 0 (``readout_is_zero``).
The activity comes from the rows' activity fields (``frameworks.activity``).
"""

from __future__ import annotations

import math
from collections import defaultdict

from frameworks.spec import NMNIST_CLASSES, SHD_CLASSES
from harness.cell import size_label
from harness.results import REFERENCE, Row

CLASSES = {"shd": SHD_CLASSES, "nmnist": NMNIST_CLASSES}
UNIFORM_RTOL = 1e-4
"""How close to ln K a first-step loss must be to count as uniform logits: the tolerance of the
first-step loss comparison, within which a network whose readout is exactly 0 would pass it."""
SILENT_RATE = 1e-4
"""A spiking layer below this spike rate (spikes per neuron-time-step) counts as silent. At that
rate a layer of N neurons passes on at most about N T / 10^4 spikes per sample of T steps (about 3
at the paper's SHD size, 128 neurons and 256 steps; none in most samples of the smaller test
sizes), so the layers after it get an input that is zero at nearly every step and a comparison of
their outputs compares nearly zeros."""


def vacuous_comparisons(rows: list[Row]) -> list[str]:
    """Every warning (module docstring): first-step losses of ln K, silent layers, zero readouts."""
    return vacuous_first_losses(rows) + vacuous_activity(rows)


def _cell(row: Row) -> str:
    return f"{row.task} {size_label(row)} B={row.batch_size} T={row.time_steps}"


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
            uniform = f"ln {classes} = {math.log(classes):.6f}"
            warnings.append(
                f"vacuous: {_cell(row)}: the first-step loss is {uniform} (uniform logits: the "
                "readout is about 0), so its agreement holds for any implementation; compare the "
                "later steps"
            )
    return warnings


def readout_is_zero(row: Row, readout_abs_mean: float | None) -> bool:
    """Whether a readout of mean ``|u[t]|`` keeps the loss within the first-step tolerance of ln K.

    The logits are ``z = sum_t u[t]``; the cross-entropy's gradient in ``z`` has entries of at most
    1 in size, so the loss lies within ``mean_b |z_b|_1 <= K T mean|u|`` of its value ln K at
    ``z = 0``. Below ``UNIFORM_RTOL ln K`` no comparison of the loss can tell the network from one
    whose readout is exactly 0.
    """
    classes = CLASSES.get(row.task)
    if readout_abs_mean is None or classes is None:
        return False
    return classes * row.time_steps * readout_abs_mean <= UNIFORM_RTOL * math.log(classes)


def _silent_layers(rates: dict[str, float]) -> list[str]:
    return [f"{name} (rate {rate:.3g})" for name, rate in rates.items() if rate < SILENT_RATE]


def _signs(row: Row, rates: dict[str, float], readout: float | None) -> list[str]:
    """What makes one activity vacuous: its silent layers and a readout of about 0."""
    signs = [f"layer {layer} is silent" for layer in _silent_layers(rates)]
    if readout_is_zero(row, readout):
        signs.append(f"the readout is about 0 (mean |u| {readout:.3g})")
    return signs


def vacuous_activity(rows: list[Row]) -> list[str]:
    """Warnings for silent layers and zero readouts (module docstring), one line per configuration
    at the initial weights (the same in every framework: the same weights and batch) and one per
    configuration and framework at the final weights."""
    first: dict[tuple, list[str]] = {}
    final: dict[tuple, list[str]] = defaultdict(list)
    cells: dict[tuple, str] = {}
    for row in sorted(rows, key=lambda r: r.framework != REFERENCE):
        if row.status != "ok" or not row.spike_rates_first:
            continue
        key = row.config_key()
        cells[key] = _cell(row)
        first.setdefault(key, _signs(row, row.spike_rates_first, row.readout_abs_mean_first))
        signs = _signs(row, row.spike_rates_final, row.readout_abs_mean_final)
        if signs:
            final[key].append(f"{row.framework}: {', '.join(signs)}")
    downstream = "agree whatever the layers downstream of it compute"
    warnings = [
        f"vacuous: {cells[key]}: on the first batch at the initial weights, {', '.join(signs)}, "
        f"so the first steps {downstream}"
        for key, signs in first.items()
        if signs
    ]
    warnings += [
        f"vacuous: {cells[key]}: on the first batch at the final weights, {'; '.join(found)}, "
        f"so the last steps {downstream}"
        for key, found in final.items()
    ]
    return warnings
