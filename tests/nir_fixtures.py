"""Fixtures shared by the NIR tests: weights that make every layer fire, input spikes, the N-MNIST
conv net at its smallest input. Used through ``pytest_plugins = ["nir_fixtures"]``."""

from __future__ import annotations

from collections.abc import Callable

import nir
import numpy as np
import pytest

from frameworks.nir.io import read_graph, write_graph
from frameworks.spec import ModelSpec, init_weights, nmnist_spec

GAINS = {"0.weight": 3.0, "2.weight": 3.0, "4.weight": 0.2}
"""At Haiku's initial weight scale the second LIF layer barely fires; these make both fire."""


@pytest.fixture
def active(spec: ModelSpec) -> dict[str, np.ndarray]:
    weights = init_weights(spec, seed=0)
    return {k: (v * GAINS.get(k, 1.0)).astype(np.float32) for k, v in weights.items()}


@pytest.fixture
def spikes(spec: ModelSpec) -> np.ndarray:
    """Random input spikes ``[B, T, C]``."""
    rng = np.random.default_rng(1)
    return (rng.random((4, spec.time_steps, *spec.input_shape)) < 0.3).astype(np.float32)


@pytest.fixture
def through_file(tmp_path) -> Callable[[nir.NIRGraph], nir.NIRGraph]:
    """Writes a graph to a NIR file and reads it back (``frameworks.nir.io``)."""

    def write_and_read(graph: nir.NIRGraph) -> nir.NIRGraph:
        write_graph(tmp_path / "g.nir", graph)
        return read_graph(tmp_path / "g.nir")

    return write_and_read


@pytest.fixture
def conv_spec() -> ModelSpec:
    """The N-MNIST net, width 1, on a (2, 16, 16) input: feature maps (12, 12, 12) and (32, 2, 2)."""
    return nmnist_spec(width=1, input_shape=(2, 16, 16), time_steps=12)


@pytest.fixture
def conv_weights(conv_spec: ModelSpec) -> dict[str, np.ndarray]:
    """Initial weights with a different beta at every position of each feature map."""
    weights = init_weights(conv_spec, seed=0)
    rng = np.random.default_rng(2)
    for name in ("1.beta", "4.beta"):
        weights[name] = rng.uniform(0.2, 0.9, weights[name].shape).astype(np.float32)
    return weights


@pytest.fixture
def conv_spikes(conv_spec: ModelSpec) -> np.ndarray:
    """Random input spikes ``[B, T, 2, 16, 16]``."""
    rng = np.random.default_rng(1)
    return (rng.random((4, conv_spec.time_steps, *conv_spec.input_shape)) < 0.4).astype(np.float32)
