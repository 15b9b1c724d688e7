"""Shared test setup: JAX in its strictest broadcasting mode and a tiny SHD network."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from frameworks.spec import ModelSpec, init_weights, shd_spec

jax.config.update("jax_numpy_rank_promotion", "raise")
# Not jax_numpy_dtype_promotion="strict": optax's Adam bias correction mixes a float with an int32 count.


@pytest.fixture
def spec() -> ModelSpec:
    """A tiny SHD network (16 channels, 32 hidden, 40 steps); ModelSpec is immutable."""
    return shd_spec(channels=16, hidden=32, time_steps=40)


@pytest.fixture
def weights(spec: ModelSpec) -> dict[str, np.ndarray]:
    """Fresh canonical initial weights of ``spec`` for each test (seed 0)."""
    return init_weights(spec, seed=0)
