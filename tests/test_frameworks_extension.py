"""A new layer kind, added in one place through the public extension points, runs everywhere.

``MeanPool2d`` exists only in this file: one ``StatelessLayer`` subclass (its shape rule), one
Haiku builder in ``frameworks.jax_base.STATELESS_MODULES`` and one torch builder in
``frameworks.torch_base.STATELESS_MODULES``. spyx_core (both implementations) and every torch
adapter then build the network, and they agree on its readout and gradients; a torch builder that
computes another function (a sum instead of a mean) is caught.
"""

from __future__ import annotations

from dataclasses import dataclass

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import frameworks
import spyx_core
from frameworks import conformance, jax_base, torch_base
from frameworks.conformance.equivalence import compare
from frameworks.jax_base import JaxAdapter
from frameworks.spec import (
    LAYER_TYPES,
    LI,
    LIF,
    Flatten,
    Linear,
    ModelSpec,
    StatelessLayer,
    init_weights,
    is_decay,
)


@dataclass(frozen=True, kw_only=True)
class MeanPool2d(StatelessLayer):
    """Non-overlapping ``k x k`` mean pooling of channel-first maps."""

    kernel_size: int = 2

    def output_shape(self, shape):
        k = self.kernel_size
        if len(shape) != 3 or min(shape[1:]) < k:
            raise ValueError(f"expects (C, H, W) with H, W >= {k}")
        return (shape[0], shape[1] // k, shape[2] // k)


def _haiku_mean_pool(layer: MeanPool2d, name: str):
    k = layer.kernel_size
    return lambda x: hk.avg_pool(x, (1, 1, k, k), (1, 1, k, k), "VALID")


def _torch_mean_pool(layer: MeanPool2d):
    return torch.nn.AvgPool2d(layer.kernel_size), {}


def _torch_sum_pool(layer: MeanPool2d):  # a wrong builder: k*k times the mean
    return torch.nn.LPPool2d(1, layer.kernel_size), {}


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(jax_base.STATELESS_MODULES, MeanPool2d, _haiku_mean_pool)
    monkeypatch.setitem(torch_base.STATELESS_MODULES, MeanPool2d, _torch_mean_pool)


@pytest.fixture(scope="module")
def spec() -> ModelSpec:
    layers = (
        MeanPool2d(),
        Flatten(),
        Linear(n_in=2 * 4 * 4, n_out=12),
        LIF(size=12),
        Linear(n_in=12, n_out=3),
        LI(size=3),
    )
    return ModelSpec(task="pool-test", layers=layers, time_steps=10, input_shape=(2, 8, 8))


@pytest.fixture(scope="module")
def batch(spec):
    rng = np.random.default_rng(3)
    spikes = (rng.random((4, spec.time_steps, *spec.input_shape)) < 0.4).astype(np.float32)
    return spikes, rng.integers(0, 3, 4)


@pytest.fixture(scope="module")
def weights(spec):
    weights = init_weights(spec, seed=1)
    return {k: v * 3 if k == "2.weight" else v for k, v in weights.items()}  # the LIF fires


def test_the_layer_is_registered_by_defining_it(spec):
    assert LAYER_TYPES["MeanPool2d"] is MeanPool2d
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert spec.shapes[0] == (2, 4, 4)


TORCH = [n for n in frameworks.available(exact_only=True) if n != "spyx_core"]


@pytest.mark.parametrize("candidate", ["spyx_core@scan", *TORCH])
def test_every_adapter_builds_it_and_agrees(registered, spec, weights, batch, candidate):
    reference, other = frameworks.load("spyx_core"), frameworks.load(candidate)
    spiking = reference.readout(spec, weights, batch[0])
    assert np.abs(spiking).max() > 0.1  # the readout is driven through the LIF layer
    report = compare(reference, other, spec, weights, *batch)
    assert report.ok, f"\n{report}"


def test_a_builder_computing_another_function_is_caught(registered, monkeypatch, spec, weights, batch):
    monkeypatch.setitem(torch_base.STATELESS_MODULES, MeanPool2d, _torch_sum_pool)
    report = compare(frameworks.load("spyx_core"), frameworks.load("torch_plain"), spec, weights, *batch)
    assert not report.ok


def test_an_unregistered_layer_is_unsupported_naming_it(spec, weights, batch):
    for name in ("spyx_core", "torch_plain"):
        with pytest.raises(frameworks.Unsupported, match="MeanPool2d"):
            frameworks.load(name).readout(spec, weights, batch[0])


# --- a new JAX framework is one hook ---------------------------------------------------------------


class HandWrittenJax(JaxAdapter):
    """The canonical LIF network written in plain JAX (``lax.scan``, no Haiku modules): a JAX
    adapter implements ``name``, ``packages`` and ``network``, the base does the rest."""

    name = "hand_written_jax"
    packages = ("jax", "jaxlib", "optax")

    def network(self, spec, weights):
        spike = spyx_core.surrogate(spec.surrogate, spec.surrogate_slope)
        fixed = {k: jnp.asarray(v) for k, v in weights.items() if not spec.train_beta and is_decay(k)}

        def leaky(beta, current, spiking):
            def step(carry, x):
                v, s = carry
                v = beta * v + x - spec.theta * jax.lax.stop_gradient(s) if spiking else beta * v + x
                s = spike(v - spec.theta) if spiking else v
                return (v, s), s

            zeros = jnp.zeros_like(current[0])
            beta = jnp.broadcast_to(beta, zeros.shape)  # [size] -> [B, size]: strict rank promotion
            return jax.lax.scan(step, (zeros, zeros), current)[1]

        def apply(params, x):
            for i, layer in enumerate(spec.layers):
                p = params.get(f"layer_{i}", {})
                if isinstance(layer, Linear):
                    x = x @ p["w"]
                    continue
                if type(layer) not in (LIF, LI):
                    raise frameworks.Unsupported(f"hand_written_jax has no {type(layer).__name__}")
                # the spec's clip: its gradient is 1 at the boundaries (jnp.clip gives 0.5 there)
                beta = spyx_core.clip_decay(p["beta"] if "beta" in p else fixed[f"{i}.beta"])
                x = leaky(beta, x, spiking=layer.spiking)
            return x

        for layer in spec.layers:  # what it cannot express, before any tracing
            if not isinstance(layer, Linear | LIF | LI):
                raise frameworks.Unsupported(f"hand_written_jax has no {type(layer).__name__}")
        return apply


def test_a_jax_adapter_of_one_hook_passes_the_conformance_suite():
    report = conformance.run(HandWrittenJax())
    assert report.ok, f"\n{report}"
    assert report.exact
    statuses = {check.name: check.status for check in report.checks}
    assert statuses["forward+gradients shd"] == "pass"
    assert statuses["first-step loss shd"] == "pass"
