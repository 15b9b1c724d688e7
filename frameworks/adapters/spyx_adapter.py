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
from frameworks.spec import LI, LIF, Linear, ModelSpec, StatelessLayer, is_decay

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


def _leading_stateless(spec: ModelSpec) -> int:
    """How many stateless layers come before the first neuron layer."""
    for i, layer in enumerate(spec.layers):
        if not isinstance(layer, StatelessLayer):
            return i
    return len(spec.layers)


def _scan_forward(spec: ModelSpec, factories: list, unroll: int) -> Callable[[jax.Array], jax.Array]:
    """Every layer stepped together through time by one ``lax.scan`` (``run_sequential``'s
    ``"scan"``), time-major ``[T, B, C]`` in and out."""

    def forward(x: jax.Array) -> jax.Array:
        layers = [make() for make in factories]
        return spyx_core.run_sequential(layers, x, impl="scan", unroll=unroll)

    return forward


def _paper_forward(spec: ModelSpec, factories: list, unroll: int) -> Callable[[jax.Array], jax.Array]:
    """The Spyx paper's SHD network as its notebook writes it (docs/idioms.md), batch-first
    ``[B, T, C]`` in and out: the stateless layers before the first neuron on the whole sequence
    (``hk.BatchApply``), the rest one ``hk.DeepRNN`` stepped by
    ``hk.dynamic_unroll(time_major=False)``."""
    lead = _leading_stateless(spec)

    def forward(x: jax.Array) -> jax.Array:
        layers = [make() for make in factories]
        for layer in layers[:lead]:
            x = hk.BatchApply(layer)(x)
        core = hk.DeepRNN(layers[lead:])
        state = core.initial_state(x.shape[0])
        out, _ = hk.dynamic_unroll(core, x, state, time_major=False, unroll=unroll)
        return out

    return forward


@dataclasses.dataclass(frozen=True)
class Idiom:
    """One way of running Spyx's network: its forward builder, its layout and its row text."""

    forward: Callable[[ModelSpec, list, int], Callable[[jax.Array], jax.Array]]
    batch_first: bool
    text: str


IDIOMS: dict[str, Idiom] = {
    "scan": Idiom(_scan_forward, False, "impl=scan, time-major"),
    "paper": Idiom(
        _paper_forward,
        True,
        "the paper notebook's idiom: hk.BatchApply(first Linear), hk.DeepRNN of the rest, "
        "hk.dynamic_unroll(time_major=False), jnp.unpackbits per batch, batch-first",
    ),
}
"""Idiom name -> how the adapter runs Spyx's cores (``SpyxAdapter(idiom=...)``)."""


def network(
    spec: ModelSpec, weights: dict[str, np.ndarray], *, unroll: int, idiom: str = "scan"
) -> Callable:
    """``apply(params, x)``: the Spyx network run in ``idiom`` (time-major ``[T, B, C]``, or
    batch-first ``[B, T, C]`` where the idiom is); untrained decays merged in.

    Raises:
        Unsupported: a layer or surrogate Spyx cannot express.
    """
    build = IDIOMS[idiom].forward(spec, _factories(spec), unroll)

    def forward(x: jax.Array) -> jax.Array:
        # Spyx broadcasts beta [size] against [B, size] implicitly: allow it whatever the setting.
        with jax.numpy_rank_promotion("allow"):
            return build(x)

    apply = hk.without_apply_rng(hk.transform(forward)).apply
    if spec.train_beta:
        return apply
    every = dataclasses.replace(spec, train_beta=True)
    fixed = to_haiku(every, {k: v for k, v in weights.items() if is_decay(k)})
    return lambda params, x: apply(hk.data_structures.merge(params, fixed), x)


class SpyxAdapter(JaxAdapter):
    """Spyx 0.1.x (module docstring); devices, staging, session and the epoch loop are the JAX
    base's, so only the network, and the layout it runs in, differ from ``spyx_core@scan``."""

    name = "spyx"
    packages = ("spyx", "jax", "jaxlib", "dm-haiku", "optax")
    exact = False
    semantics = SEMANTICS
    VARIANTS: ClassVar[dict[str, dict]] = {
        "scan": {},
        "unroll32": {"unroll": 32},
        "paper": {"idiom": "paper", "unroll": 32},
    }
    """``spyx@scan``: the default (its name in grids that map ``spyx`` to ``spyx@paper``,
    ``harness.grids``); ``spyx@unroll32``: the paper's ``dynamic_unroll`` unroll factor;
    ``spyx@paper``: the paper notebook's whole idiom (module docstring)."""

    def __init__(self, unroll: int = 1, idiom: str = "scan"):
        if idiom not in IDIOMS:
            raise ValueError(f"unknown idiom {idiom!r}; choose one of {', '.join(IDIOMS)}")
        self.unroll, self.idiom = unroll, idiom
        self.batch_first = IDIOMS[idiom].batch_first

    def network(self, spec: ModelSpec, weights: dict[str, np.ndarray]) -> Apply:
        return network(spec, weights, unroll=self.unroll, idiom=self.idiom)

    def describe(self) -> str:
        text = IDIOMS[self.idiom].text
        return f"Spyx's network; {text} unroll={self.unroll} matmul_precision={self.matmul_precision}"


__all__ = ["IDIOMS", "SEMANTICS", "SpyxAdapter", "activation", "network"]
