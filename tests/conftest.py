"""Shared test setup: JAX in its strictest broadcasting mode, a tiny SHD network and the fake adapter."""

from __future__ import annotations

import os
import shutil
import tempfile

# One JAX compilation cache for the whole run, shared by the xdist workers and every worker process
# the harness tests start (they inherit the environment): many tests compile the same tiny
# programs. Set before JAX is imported; a fresh folder per run, removed at its end. Inductor's
# cache too: a run starts as cold as on a fresh machine, whatever earlier runs left in /tmp.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    cache = tempfile.mkdtemp(prefix="spikebench-tests-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = os.path.join(cache, "jax")
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = os.path.join(cache, "inductor")
    os.environ["SPIKEBENCH_TESTS_CACHE"] = f"{os.getpid()}:{cache}"
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

import jax
import numpy as np
import pytest
from fake_framework import install

from frameworks.spec import ModelSpec, init_weights, shd_spec

jax.config.update("jax_numpy_rank_promotion", "raise")
# Not jax_numpy_dtype_promotion="strict": optax's Adam bias correction mixes a float with an int32 count.

SUITE_WORKERS = 2
"""The suite runs in two processes (pytest-xdist's ``-n auto``, pyproject.toml): its budget is two
CPU cores, and most tests leave one idle (Python, compiles, worker start-up)."""
TIMING_OPTIONS = ("benchmark_only", "benchmark_json", "benchmark_save", "benchmark_autosave",
                  "benchmark_compare")  # fmt: skip


def pytest_unconfigure(config: pytest.Config) -> None:
    """The process that made the compilation caches removes them."""
    owner, _, cache = os.environ.get("SPIKEBENCH_TESTS_CACHE", "").partition(":")
    if owner == str(os.getpid()):
        shutil.rmtree(cache, ignore_errors=True)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Two workers, or none (one process) for a run that times benchmarks: pytest-benchmark times
    nothing under xdist, and a benchmark must not share its cores with other tests."""
    if any(config.getoption(option, None) for option in TIMING_OPTIONS):
        return 0
    return min(SUITE_WORKERS, os.cpu_count() or 1)


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
