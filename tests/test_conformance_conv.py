"""The N-MNIST conv net computes the same function in every adapter that can express it.

Conv(2 -> 12, 5x5) -> LIF -> MaxPool 2 -> Conv(12 -> 32, 5x5) -> LIF -> MaxPool 2 -> Flatten ->
Linear(-> 10) -> LI, on a reduced 22x22 input (final map 32x2x2) with spike counts (not only
0/1) as N-MNIST has. The readout after Flatten depends on the (C, H, W) flatten order and the
pooling windows, so any layout slip between channel-first torch and the JAX core shows up here.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import frameworks
from frameworks.adapters.spyx_core_adapter import network, to_haiku
from frameworks.conformance.equivalence import compare
from frameworks.spec import Conv2d, ModelSpec, init_weights, nmnist_spec

REFERENCE = "spyx_core"
CONV_CANDIDATES = [
    *(n for n in frameworks.available(exact_only=True) if n != REFERENCE),
    "spyx_core@scan",
    "spyx_core@step-xla",
    "spyx_core@step-hybrid",
]
"""Every installed exact adapter, each against the reference (compiled variants compile the same
modules: tests/test_torch_compiled.py compares them with their eager adapters), and spyx_core with
each of its other convolutions (its CPU default is ``"pieces"``; ``spyx_core@epoch``'s
``"patches"`` is compared on the CPU by tests/test_spyx_core_conv.py)."""
GAINS = {"0.weight": 2.0, "3.weight": 2.0}
"""At Haiku's initial scale the second conv layer barely fires on this small input."""


@pytest.fixture(scope="module")
def conv_spec() -> ModelSpec:
    return nmnist_spec(width=1, time_steps=12, input_shape=(2, 22, 22))


@pytest.fixture(scope="module")
def conv_weights(conv_spec) -> dict[str, np.ndarray]:
    weights = init_weights(conv_spec, seed=0)
    return {k: (v * GAINS.get(k, 1.0)).astype(np.float32) for k, v in weights.items()}


@pytest.fixture(scope="module")
def counts_batch(conv_spec) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    spikes = rng.poisson(0.3, (4, conv_spec.time_steps, *conv_spec.input_shape)).astype(np.float32)
    return spikes, rng.integers(0, conv_spec.n_classes, 4)


def _conv_capable(name: str, spec, weights, batch):
    adapter = frameworks.load(name)
    try:
        adapter.readout(spec, weights, batch[0][:1])
    except frameworks.Unsupported as why:
        pytest.skip(f"{name} cannot express the conv net: {why}")
    return adapter


def test_the_batch_has_counts_and_both_conv_layers_spike(conv_spec, conv_weights, counts_batch):
    spikes = counts_batch[0]
    assert spikes.max() >= 2  # counts, not just binary spikes
    apply = network(conv_spec, conv_weights, impl="layerwise", unroll=1, return_counts=True).apply
    x = jnp.asarray(np.moveaxis(spikes, 1, 0))
    _, counts = apply(to_haiku(conv_spec, conv_weights), x)
    rates = [float(c.mean()) / conv_spec.time_steps for c in counts[:2]]
    assert all(0.05 < rate < 0.6 for rate in rates), rates
    assert sum(isinstance(layer, Conv2d) for layer in conv_spec.layers) == 2


@pytest.mark.parametrize("candidate", CONV_CANDIDATES)
def test_conv_adapters_agree(conv_spec, conv_weights, counts_batch, candidate):
    first = frameworks.load(REFERENCE)
    second = _conv_capable(candidate, conv_spec, conv_weights, counts_batch)
    report = compare(first, second, conv_spec, conv_weights, *counts_batch)
    assert report.ok, f"\n{report}"
    assert {"grad 0.weight", "grad 3.weight", "grad 7.weight", "grad 4.beta"} <= {
        c.quantity for c in report.comparisons
    }


def test_flatten_order_matters(conv_spec, conv_weights, counts_batch):
    """Permuting the Linear rows to an (H, W, C) flatten order changes the readout: the agreement
    above is evidence of the same flatten order, not of an insensitive test."""
    spyx = frameworks.load("spyx_core")
    reference = spyx.readout(conv_spec, conv_weights, counts_batch[0])
    c, h, w = conv_spec.shapes[5]
    rows = np.arange(c * h * w).reshape(c, h, w).transpose(1, 2, 0).reshape(-1)
    permuted = dict(conv_weights, **{"7.weight": conv_weights["7.weight"][rows]})
    assert np.abs(spyx.readout(conv_spec, permuted, counts_batch[0]) - reference).max() > 1e-3


def test_counts_round_trip_through_the_device_encoding():
    import spyx_core

    counts = np.random.default_rng(1).poisson(0.4, (3, 21, 2, 5, 5)).astype(np.uint8)
    counts[0, 0, 0, 0, 0] = 9  # needs four bit planes
    planes = spyx_core.pack_counts(counts)
    assert planes.shape == (3, 4, 3, 2, 5, 5) and planes.dtype == np.uint8
    back = np.asarray(spyx_core.unpack_counts(jnp.asarray(planes), 21))
    np.testing.assert_array_equal(np.moveaxis(back, 0, 1), counts)
