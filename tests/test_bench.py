"""pytest-benchmark: one training step per framework at a small size.

``pytest --benchmark-only`` runs just these; ``--benchmark-json FILE`` saves them. Each round is
one epoch of exactly one batch, synchronised inside the timed call.
"""

from __future__ import annotations

import pytest

import frameworks
from frameworks.spec import init_weights, shd_spec
from harness.datasets import synthetic_shd

BATCH = 16


@pytest.fixture(scope="module")
def one_batch():
    return synthetic_shd(n_samples=BATCH, time_steps=32, channels=16, seed=0)


@pytest.mark.parametrize("name", frameworks.names())
def test_training_step(benchmark, name, one_batch):
    spec = shd_spec(channels=16, hidden=32, time_steps=32)
    adapter = frameworks.load(name)
    session = adapter.session(
        spec, init_weights(spec, seed=0), one_batch, device="cpu", batch_size=BATCH, seed=0
    )
    session.compile()
    epochs = iter(range(10**6))

    def step():
        handle = session.train_epoch(next(epochs))
        session.synchronize()
        return handle

    handle = benchmark.pedantic(step, rounds=10, warmup_rounds=2)
    result = session.fetch(handle)
    benchmark.extra_info.update(framework=name, hidden=32, batch=BATCH, time_steps=32)
    assert result.losses.shape == (1,)
    assert 0.0 < result.losses[0] < 10.0
