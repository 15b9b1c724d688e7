"""Published reference numbers, stored as data with their provenance (docs/published-numbers.md).

``PAPER``: Heckel & Nowotny, "Spyx" (arXiv 2402.18994), Tables 1 and 2, as reconstructed from the
authors' notebooks with saved outputs (kmheckel/spyx research/paper/*.ipynb @ d5caf50 / 97ff1f9).
Seconds for the whole run (100 SHD epochs, compile included; 20 N-MNIST
epochs, compile excluded), mean and population sd over 5 trials, on an NVIDIA RTX A6000 (48 GB).

``H100_ANCHORS``: one run of the peers on an NVIDIA H100 80GB HBM3 (2026-11-27), SHD paper
configuration with synthetic data, seconds per epoch (median of 3) and compile seconds.
``MICRO_ANCHORS``: the same run's Open Neuromorphic micro-benchmark.
"""

from __future__ import annotations

from typing import NamedTuple


class Published(NamedTuple):
    framework: str
    table: str  # table1 | table2 | micro
    size: int  # H (table1), width m (table2), n (micro)
    batch_size: int
    total_s: float | None  # the whole protocol (100 or 20 epochs)
    total_sd: float | None
    epoch_s: float | None
    compile_s: float | None
    hardware: str
    source: str
    note: str = ""


_PAPER_SRC = "Spyx paper (arXiv 2402.18994), authors' notebooks @d5caf50/97ff1f9"
_A6000 = "NVIDIA RTX A6000"


_MLGENN_NOTE = "different model (EventProp, exponential synapses, recurrence); did not learn"


def _paper(framework, table, size, batch, total, sd, epochs):
    note = _MLGENN_NOTE if framework.startswith("mlGeNN") else ""
    epoch = total / epochs
    return Published(framework, table, size, batch, total, sd, epoch, None, _A6000, _PAPER_SRC, note)


PAPER: tuple[Published, ...] = (
    _paper("Spyx 0.1.x", "table1", 128, 64, 69.31, 0.13, 100),
    _paper("Spyx 0.1.x", "table1", 128, 128, 45.96, 0.07, 100),
    _paper("Spyx 0.1.x", "table1", 128, 256, 35.49, 0.09, 100),
    _paper("Spyx 0.1.x", "table1", 512, 64, 98.69, 0.21, 100),
    _paper("Spyx 0.1.x", "table1", 512, 128, 80.19, 0.16, 100),
    _paper("Spyx 0.1.x", "table1", 512, 256, 64.08, 0.21, 100),
    _paper("mlGeNN EventProp", "table1", 128, 64, 215.72, 1.59, 100),
    _paper("mlGeNN EventProp", "table1", 128, 128, 160.82, 1.60, 100),
    _paper("mlGeNN EventProp", "table1", 128, 256, 123.46, 1.03, 100),
    _paper("mlGeNN EventProp", "table1", 512, 64, 690.94, 84.94, 100),
    _paper("mlGeNN EventProp", "table1", 512, 128, 418.39, 39.44, 100),
    _paper("mlGeNN EventProp", "table1", 512, 256, 339.47, 23.67, 100),
    _paper("Spyx 0.1.x", "table2", 1, 32, 134.97, 0.06, 20),
    _paper("Spyx 0.1.x", "table2", 1, 64, 128.35, 0.11, 20),
    _paper("Spyx 0.1.x", "table2", 1, 128, 127.35, 0.03, 20),
    _paper("Spyx 0.1.x", "table2", 2, 32, 247.20, 0.12, 20),
    _paper("Spyx 0.1.x", "table2", 2, 64, 241.18, 0.08, 20),
    _paper("Spyx 0.1.x", "table2", 2, 128, 236.52, 0.01, 20),
    _paper("SpikingJelly CuPy", "table2", 1, 32, 129.42, 0.42, 20),
    _paper("SpikingJelly CuPy", "table2", 1, 64, 126.47, 0.19, 20),
    _paper("SpikingJelly CuPy", "table2", 1, 128, 125.25, 0.05, 20),
    _paper("SpikingJelly CuPy", "table2", 2, 32, 233.96, 0.14, 20),
    _paper("SpikingJelly CuPy", "table2", 2, 64, 229.70, 0.08, 20),
    _paper("SpikingJelly CuPy", "table2", 2, 128, 227.64, 0.04, 20),
)

_H100 = "NVIDIA H100 80GB HBM3"
_H100_SRC = "peers measured on one H100, 2026-11-27 (docs/published-numbers.md)"


def _anchor(framework, size, epoch_s, compile_s):
    return Published(framework, "table1", size, 256, None, None, epoch_s, compile_s, _H100, _H100_SRC)


H100_ANCHORS: tuple[Published, ...] = (
    _anchor("Spyx 0.1.20", 128, 0.077, 16.7),
    _anchor("Spyx 0.1.20", 512, 0.240, 22.3),
    _anchor("snnTorch 1.0.0", 128, 13.9, None),
    _anchor("snnTorch 1.0.0", 512, 11.2, None),
    _anchor("Norse 1.1.0", 128, 11.8, None),
    _anchor("Norse 1.1.0", 512, 10.4, None),
)


def _micro(framework, n, ms):
    return Published(framework, "micro", n, 16, None, None, ms / 1000, None, _H100, _H100_SRC)


MICRO_ANCHORS: tuple[Published, ...] = tuple(
    _micro(framework, n, ms)
    for framework, times in {
        "plain JAX+Haiku scan": (2.2, 12.4, 162.5),
        "Spyx 0.1.20": (4.5, 12.3, 162.7),
        "snnTorch 1.0.0": (296, 236, 1102),
        "Norse 1.1.0 LIFBoxCell": (195, 223, 603),
    }.items()
    for n, ms in zip((512, 4096, 16384), times, strict=True)
)
"""Open Neuromorphic micro-benchmark, forward+backward per call (``epoch_s`` holds seconds)."""


def published(table: str) -> list[Published]:
    """Every published figure for ``table``."""
    return [p for p in (*PAPER, *H100_ANCHORS, *MICRO_ANCHORS) if p.table == table]
