"""Shared test setup: JAX in its strictest broadcasting mode, a tiny SHD network and the fake adapter."""

from __future__ import annotations

import os

import jax
import numpy as np
import pytest
from fake_framework import install

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


@pytest.fixture
def fake_framework(tmp_path, monkeypatch) -> str:
    """Makes the fake adapter (tests/fake_framework.py) discoverable here and in worker processes;
    returns its name."""
    folder = install(tmp_path / "site")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.syspath_prepend(str(folder))
    return "fakefw"
