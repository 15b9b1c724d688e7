"""pytest-benchmark: one training step per framework and task, at a small size.

``pytest --benchmark-only`` runs just these; ``--benchmark-json FILE`` saves them (and
``spikebench report DIR --benchmark-json FILE`` tabulates them). Each round is one epoch of exactly
one batch, synchronised inside the timed call; compilation happens before the rounds.
"""

from __future__ import annotations

import pytest
from datasets_fixtures import synthetic_nmnist, synthetic_shd

import frameworks
from frameworks.spec import init_weights, nmnist_spec, shd_spec

BATCH = 16
TASKS = {
    "shd": (
        lambda: shd_spec(channels=16, hidden=32, time_steps=32),
        lambda: synthetic_shd(n_samples=BATCH, time_steps=32, channels=16, seed=0),
    ),
    "nmnist": (
        lambda: nmnist_spec(width=1, time_steps=16),
        lambda: synthetic_nmnist(n_samples=BATCH, time_steps=16, seed=0),
    ),
}


@pytest.mark.parametrize("task", sorted(TASKS))
@pytest.mark.parametrize("name", frameworks.available())
def test_training_step(benchmark, name, task):
    make_spec, make_data = TASKS[task]
    spec, data = make_spec(), make_data()
    adapter = frameworks.load(name)
    try:
        session = adapter.session(
            spec, init_weights(spec, seed=0), data, device="cpu", batch_size=BATCH, seed=0
        )
    except frameworks.Unsupported as why:
        pytest.skip(f"{name}: {why}")
    session.compile()
    epochs = iter(range(10**6))

    def step():
        handle = session.train_epoch(next(epochs))
        session.synchronize()
        return handle

    handle = benchmark.pedantic(step, rounds=5, warmup_rounds=1)
    result = session.fetch(handle)
    benchmark.extra_info.update(framework=name, task=task, batch=BATCH, time_steps=spec.time_steps)
    assert result.losses.shape == (1,)
    assert 0.0 < result.losses[0] < 10.0
