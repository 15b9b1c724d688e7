"""The conformance tasks: tiny networks whose layers all fire, and their batches."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from frameworks.conformance.equivalence import equivalence_batch
from frameworks.spec import ModelSpec, init_weights, is_decay, shd_spec

BOUNDARY_DECAYS = (0.0, 1e-7, 1.0, -0.05, 1.3)
"""Decay values on and past the boundaries of ``[0, 1]``, where frameworks' clips, rescalings and
divisions differ first; ``Task.boundary_weights`` cycles them over each layer's neurons."""


@dataclass(frozen=True)
class Task:
    """A conformance task: a tiny network whose layers all fire, and its batches.

    Attributes:
        name: the task (``"shd"``).
        spec: the tiny network.
        gains: factors on ``init_weights`` so that every layer fires moderately.
        batch_size: of the equivalence batch and of the session.
        rate: spike probability of the random input.
    """

    name: str
    spec: ModelSpec
    gains: Mapping[str, float]
    batch_size: int = 8
    rate: float = 0.3

    def weights(self, seed: int = 0) -> dict[str, np.ndarray]:
        """``init_weights`` scaled by ``gains``."""
        weights = init_weights(self.spec, seed=seed)
        return {k: (v * self.gains.get(k, 1.0)).astype(np.float32) for k, v in weights.items()}

    def boundary_weights(self, seed: int = 0) -> dict[str, np.ndarray]:
        """``weights`` with every decay (beta, alpha, gamma) set to ``BOUNDARY_DECAYS`` in turn,
        neuron by neuron."""
        weights = self.weights(seed)
        values = np.asarray(BOUNDARY_DECAYS, np.float32)
        return {k: np.resize(values, v.shape) if is_decay(k) else v for k, v in weights.items()}

    def batch(self, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``n`` random samples: spikes float32 ``[n, T, ...]``, labels int64 ``[n]``."""
        return equivalence_batch(self.spec, batch_size=n, seed=seed, rate=self.rate)


TASKS: dict[str, Task] = {
    "shd": Task(
        "shd",
        shd_spec(channels=12, hidden=16, time_steps=12),
        {"0.weight": 3.0, "2.weight": 3.0, "4.weight": 0.2},
    ),
}
"""Conformance tasks by name (N-MNIST joins once the spec has a conv net)."""
