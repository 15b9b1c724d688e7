"""Spyx 0.1.x, the published library of the paper: ``spyx.nn`` Haiku cores in one ``hk.DeepRNN``.

The network is ``hk.Linear`` (no bias) and ``spyx.nn.LIF`` / ``spyx.nn.LI`` cores with per-neuron
``beta`` (``beta=None``), the surrogate from ``spyx.axn`` with the spec's slope, stepped through
time by ``hk.dynamic_unroll`` as Spyx's examples do. Loss (the same function as
``spyx.fn.integral_crossentropy``), Adam and the compiled epoch are spyx_core's
(``spyx_core.make_trainer``), so only the network differs from ``spyx_core@scan``.

Spyx 0.1.x's LIF (``spyx/nn.py``) is not the canonical one::

    s[t] = H(v[t-1] - theta)            (canonical: H(v[t] - theta))
    v[t] = beta v[t-1] + I[t] - theta s[t]

The membrane trace is the canonical one, but every LIF layer emits its spikes one step later, so the
readout of the two-layer network sees its input two steps late; and the reset term carries gradient
(canonical: detached). ``semantics`` says so and the conformance suite measures the deviation.

A fixed beta (``train_beta=False``) is per neuron in the spec, which ``spyx.nn.LIF`` cannot take
(a float becomes one trainable scalar): the adapter keeps the per-neuron parameter and leaves it
out of training, merging it into the parameters on every call.

``import spyx`` runs ``spyx/loaders.py``, which imports tonic and torchvision inside
``except ImportError``; torchvision 0.28 beside the CPU torch 2.13 raises ``RuntimeError`` instead
(``docs/install.md``). The adapter imports Spyx with those two modules hidden (when not already
imported), so the loaders see them as absent; the loaders are never used here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import sys
from collections.abc import Callable, Iterator
from typing import ClassVar

import haiku as hk
import jax
import numpy as np

import spyx_core
from frameworks.adapter import Unsupported
from frameworks.jax_base import Apply, JaxAdapter, layer_name, to_haiku
from frameworks.spec import LI, LIF, Linear, ModelSpec, is_decay

_LOADER_MODULES = ("tonic", "torchvision")


@contextlib.contextmanager
def _without(modules: tuple[str, ...]) -> Iterator[None]:
    """Makes ``import`` of each not-yet-imported module in ``modules`` raise ImportError."""
    hidden = [name for name in modules if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # Python's documented "import raises ImportError" marker
    try:
        yield
    finally:
        for name in hidden:
            if sys.modules.get(name, "") is None:
                del sys.modules[name]


with _without(_LOADER_MODULES):
    import spyx
    import spyx.axn
    import spyx.nn

SEMANTICS = (
    "fires from the previous membrane (s[t] = H(v[t-1] - theta)): each LIF layer spikes one step "
    "later than canonical; the reset term is not detached from the gradient"
)

_SURROGATES: dict[str, Callable[[float], Callable]] = {
    "arctan": lambda k: spyx.axn.arctan(k),
    "superspike": lambda k: spyx.axn.superspike(k),
    "fast_sigmoid": lambda k: spyx.axn.superspike(k),
    "tanh": lambda k: spyx.axn.tanh(k),
    "boxcar": lambda k: spyx.axn.boxcar(width=2.0 / k, height=0.5),
    "triangular": lambda k: spyx.axn.triangular(k),
}
"""Canonical surrogate name -> the ``spyx.axn`` activation with the same derivative."""


def activation(spec: ModelSpec) -> Callable:
    """The spec's surrogate spike from ``spyx.axn``.

    Raises:
        Unsupported: Spyx has no surrogate of that name.
    """
    if spec.surrogate not in _SURROGATES:
        known = ", ".join(sorted(_SURROGATES))
        raise Unsupported(f"spyx has no surrogate {spec.surrogate!r}; it has: {known}")
    return _SURROGATES[spec.surrogate](spec.surrogate_slope)


_LAYERS: dict[type, Callable[..., Callable[[], Callable]]] = {
    Linear: lambda layer, name, spec, spike: functools.partial(
        hk.Linear, layer.n_out, with_bias=False, name=name
    ),
    LIF: lambda layer, name, spec, spike: functools.partial(
        spyx.nn.LIF, (layer.size,), threshold=spec.theta, activation=spike, name=name
    ),
    LI: lambda layer, name, spec, spike: functools.partial(spyx.nn.LI, (layer.size,), name=name),
}
"""Layer class -> ``factory(layer, name, spec, spike)`` of the constructor of its Spyx module."""


def _factories(spec: ModelSpec) -> list[Callable[[], Callable]]:
    """Constructors of the spec's Haiku modules, named ``layer_<i>`` as spyx_core names them.

    Call them inside ``hk.transform``; this function only checks what Spyx can express.

    Raises:
        Unsupported: a layer or surrogate Spyx cannot express.
    """
    spike = activation(spec)
    for layer in spec.layers:
        if type(layer) not in _LAYERS:
            known = ", ".join(t.__name__ for t in _LAYERS)
            raise Unsupported(f"the spyx adapter maps {known} only, not {type(layer).__name__}")
    return [_LAYERS[type(x)](x, layer_name(i), spec, spike) for i, x in enumerate(spec.layers)]


def network(spec: ModelSpec, weights: dict[str, np.ndarray], *, unroll: int) -> Callable:
    """``apply(params, x)``: the Spyx network on ``[T, B, C]``; untrained decays merged in.

    Raises:
        Unsupported: a layer or surrogate Spyx cannot express.
    """
    factories = _factories(spec)

    def forward(x: jax.Array) -> jax.Array:
        # Spyx broadcasts beta [size] against [B, size] implicitly: allow it whatever the setting.
        with jax.numpy_rank_promotion("allow"):
            layers = [make() for make in factories]
            return spyx_core.run_sequential(layers, x, impl="scan", unroll=unroll)

    apply = hk.without_apply_rng(hk.transform(forward)).apply
    if spec.train_beta:
        return apply
    every = dataclasses.replace(spec, train_beta=True)
    fixed = to_haiku(every, {k: v for k, v in weights.items() if is_decay(k)})
    return lambda params, x: apply(hk.data_structures.merge(params, fixed), x)


class SpyxAdapter(JaxAdapter):
    """Spyx 0.1.x (module docstring); devices, staging, session and the epoch loop are the JAX
    base's, so only the network differs from ``spyx_core@scan``."""

    name = "spyx"
    packages = ("spyx", "jax", "jaxlib", "dm-haiku", "optax")
    exact = False
    semantics = SEMANTICS
    VARIANTS: ClassVar[dict[str, dict]] = {"unroll32": {"unroll": 32}}
    """``spyx@unroll32``: the paper's ``dynamic_unroll`` unroll factor."""

    def __init__(self, unroll: int = 1):
        self.unroll = unroll

    def network(self, spec: ModelSpec, weights: dict[str, np.ndarray]) -> Apply:
        return network(spec, weights, unroll=self.unroll)

    def describe(self) -> str:
        return f"Spyx's network; impl=scan unroll={self.unroll} matmul_precision={self.matmul_precision}"


__all__ = ["SEMANTICS", "SpyxAdapter", "activation", "network"]
