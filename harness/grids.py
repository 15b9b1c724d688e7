"""The paper's grids as lists of cells: Table 1 (SHD), Table 2 (N-MNIST) and the micro-benchmark.

Cells loop over frameworks innermost, so that a partial run already compares frameworks. Each grid
takes its sizes (H, m or n) from the paper unless given. In Table 1 a framework named plainly runs
as the paper ran it (``TABLE1_ENTRIES``: ``spyx`` is ``spyx@paper``, the notebook's idiom); a
variant named in full runs as named (``spyx@scan`` is the default, faster Spyx network).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.cell import Cell

SHD_TRAIN_SAMPLES = 8156
NMNIST_HALF_TRAIN_SAMPLES = 30000
TABLE1_SIZES = (128, 512)
TABLE2_SIZES = (1, 2)
MICRO_SIZES = (512, 4096, 16384)
TABLE1_ENTRIES = {"spyx": "spyx@paper"}
"""Framework name -> what Table 1 runs for it: Spyx as the paper's SHD notebook runs it
(docs/idioms.md)."""


def table1(frameworks: list[str], *, sizes: tuple[int, ...] = TABLE1_SIZES, **common: Any) -> list[Cell]:
    """SHD, 100-epoch protocol: H in ``sizes`` ({128, 512}) x B in {64, 128, 256}, C=128, T=256."""
    return [
        Cell(
            framework=TABLE1_ENTRIES.get(name, name),
            task="shd",
            hidden=hidden,
            batch_size=batch,
            channels=128,
            time_steps=256,
            projected_epochs=100,
            reference_samples=SHD_TRAIN_SAMPLES,
            **common,
        )
        for hidden in sizes
        for batch in (64, 128, 256)
        for name in frameworks
    ]


def table2(frameworks: list[str], *, sizes: tuple[int, ...] = TABLE2_SIZES, **common: Any) -> list[Cell]:
    """N-MNIST conv net, 20-epoch protocol: width m in ``sizes`` ({1, 2}) x B in {32, 64, 128}, T=64."""
    return [
        Cell(
            framework=name,
            task="nmnist",
            width=width,
            batch_size=batch,
            time_steps=64,
            projected_epochs=20,
            reference_samples=NMNIST_HALF_TRAIN_SAMPLES,
            **common,
        )
        for width in sizes
        for batch in (32, 64, 128)
        for name in frameworks
    ]


def micro(frameworks: list[str], *, sizes: tuple[int, ...] = MICRO_SIZES, **common: Any) -> list[Cell]:
    """Open Neuromorphic micro-benchmark: Linear(n, n) + LIF, B=16, T=500, n in ``sizes``
    ({512, 4096, 16384})."""
    common = {k: v for k, v in common.items() if k not in ("n_samples", "data", "data_dir", "evaluate")}
    return [
        Cell(framework=name, task="micro", hidden=n, channels=n, batch_size=16, time_steps=500, **common)
        for n in sizes
        for name in frameworks
    ]


GRIDS: dict[str, Callable[..., list[Cell]]] = {"table1": table1, "table2": table2, "micro": micro}
