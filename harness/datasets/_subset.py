"""Which samples of a split are used: all, a seeded half (the paper's N-MNIST), or the first n of a
seeded order (quick runs)."""

from __future__ import annotations

import numpy as np


def select(
    n_total: int, *, n_samples: int | None, half_train: bool, seed: int
) -> tuple[np.ndarray, dict]:
    """Sorted sample indices and a description of the choice (for cache keys).

    A subset is the first ``k`` entries of ``permutation(n_total)`` drawn from ``seed``, sorted
    back into file order. A seeded order, not the first ``k`` files, because tonic lists N-MNIST
    by digit folder: its first 1000 files are all zeros. Smaller ``n_samples`` give nested
    subsets for the same seed.

    Args:
        n_total: samples in the split.
        n_samples: keep at most this many (None: no limit).
        half_train: keep ``n_total // 2`` first, as the paper's N-MNIST run does.
        seed: the permutation's seed (used only when a subset is taken).

    Returns:
        ``(indices, description)``.
    """
    keep = n_total // 2 if half_train else n_total
    if n_samples is not None:
        keep = min(keep, n_samples)
    if keep == n_total:
        return np.arange(n_total), {"n_total": n_total, "n_samples": n_total}
    order = np.random.default_rng(seed).permutation(n_total)
    indices = np.sort(order[:keep])
    return indices, {"n_total": n_total, "n_samples": keep, "half_train": half_train, "seed": seed}
