"""spyx_core: the canonical model in JAX + Haiku, one compiled program per training epoch or per
training step (and, for the micro-benchmark, one forward and one forward+backward program).

The network is one table: stateless layers from ``frameworks.jax_base.STATELESS_MODULES``, neuron
layers from ``NEURONS`` (spyx_core's cores), run by ``spyx_core.run_sequential`` with the
adapter's implementation (``impl``, ``unroll``, ``remat_chunk``) and convolution (``conv``).
Everything else (devices, staging, the compiled programs, the micro-benchmark) is the JAX base's.

``program`` and ``conv`` default to ``"auto"``: each device platform's fastest measured pair
(``PROGRAM_DEFAULTS``, ``CONV_DEFAULTS``; docs/cpu-performance.md), resolved when a session or the
micro-benchmark's kernels are built for a device.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import ClassVar

import haiku as hk
import jax
import numpy as np

import spyx_core
from frameworks.adapter import Unsupported
from frameworks.jax_base import (
    MATMUL_PRECISION,
    PROGRAMS,
    REDUCED_PRECISION,
    STATELESS_MODULES,
    Apply,
    JaxAdapter,
    from_haiku,
    layer_name,
    stage,
    to_haiku,
    trainer_for,
)
from frameworks.spec import ALIF, IF, LI, LIF, RIF, RLIF, Conv2d, CuBaLIF, Layer, ModelSpec, NeuronLayer

DEFAULT_IMPL = "fused_spikes"
"""``spyx_core`` itself runs ``run_sequential(impl="fused_spikes")``: measured faster than ``"fused"``
over whole SHD epochs at H=128 and H=512 (B=256, T=256) on both 2-core CPUs these results come from
(docs/shd-floor.md, "The default implementation"); ``spyx_core@fused`` keeps the other."""

__all__ = [  # the JAX base's names that the harness and tests reach through this adapter
    "MATMUL_PRECISION", "NEURONS", "SpyxCoreAdapter", "from_haiku", "make_spec_trainer", "modules",
    "network", "stage", "to_haiku",
]  # fmt: skip


class NeuronContext:
    """What a neuron builder needs beyond its layer: its name, threshold, spike and the decays
    that stay fixed (an untrained decay is the given constant, a trained one a parameter)."""

    def __init__(self, spec: ModelSpec, weights: dict[str, np.ndarray], index: int, spike_fn):
        self.name, self.trained = layer_name(index), spec.train_beta
        self.spiking = {"theta": spec.theta, "spike_fn": spike_fn, "name": self.name}
        self._weights, self._index = weights, index

    def fixed(self, decay: str) -> np.ndarray | None:
        return None if self.trained else self._weights[f"{self._index}.{decay}"]


def _decays(ctx: NeuronContext, *names: str) -> dict:
    return {**{name: ctx.fixed(name) for name in names}, "trainable_decays": ctx.trained}


NEURONS: dict[type[NeuronLayer], Callable[[NeuronLayer, NeuronContext], Callable]] = {
    LI: lambda layer, ctx: spyx_core.LI(
        layer.size, beta=ctx.fixed("beta"), trainable_beta=ctx.trained, name=ctx.name
    ),
    LIF: lambda layer, ctx: spyx_core.LIF(
        layer.size, beta=ctx.fixed("beta"), trainable_beta=ctx.trained, **ctx.spiking
    ),
    IF: lambda layer, ctx: spyx_core.IF(layer.size, **ctx.spiking),
    CuBaLIF: lambda layer, ctx: spyx_core.CuBaLIF(
        layer.size, **_decays(ctx, "alpha", "beta"), **ctx.spiking
    ),
    ALIF: lambda layer, ctx: spyx_core.ALIF(
        layer.size, adaptation=layer.adaptation, **_decays(ctx, "beta", "gamma"), **ctx.spiking
    ),
    RLIF: lambda layer, ctx: spyx_core.RLIF(
        layer.size, beta=ctx.fixed("beta"), trainable_beta=ctx.trained, **ctx.spiking
    ),
    RIF: lambda layer, ctx: spyx_core.RIF(layer.size, **ctx.spiking),
}
"""Neuron layer class -> ``builder(layer, context)`` of its spyx_core core (inside a transform)."""


PROGRAM_DEFAULTS: dict[tuple[str, bool], str] = {("cpu", True): "step"}
"""The ``program`` of ``"auto"`` for each (device platform, whether the network convolves)
(``"epoch"`` for the others): on the CPU XLA's convolutions are several times slower inside the
epoch program's loop, while a network without one trains 6-7% faster in the epoch program
(docs/cpu-performance.md)."""


def convolves(spec: ModelSpec) -> bool:
    """Whether ``spec`` has a convolution (``PROGRAM_DEFAULTS``)."""
    return any(isinstance(layer, Conv2d) for layer in spec.layers)


CONV_DEFAULTS: dict[tuple[str, str], str] = {("cpu", "step"): "pieces", ("cpu", "epoch"): "patches"}
"""The ``conv`` of ``"auto"`` for each (platform, program) (``"xla"`` for the others): on the CPU,
XLA's convolutions are slow inside the epoch program's loop, and at top level on thousands of
frames at once (``spyx_core._conv``; docs/cpu-performance.md)."""


def _module(
    spec: ModelSpec, weights: dict[str, np.ndarray], index: int, layer: Layer, spike_fn, conv: str
):
    """The Haiku module of layer ``index`` (created inside the transform, named ``layer_<i>``)."""
    if type(layer) in STATELESS_MODULES:
        options = {Conv2d: {"impl": conv}}.get(type(layer), {})
        return STATELESS_MODULES[type(layer)](layer, layer_name(index), **options)
    if type(layer) in NEURONS:
        return NEURONS[type(layer)](layer, NeuronContext(spec, weights, index, spike_fn))
    raise Unsupported(f"spyx_core has no layer {type(layer).__name__}")


def modules(spec: ModelSpec, weights: dict[str, np.ndarray], conv: str = "auto") -> list[Callable]:
    """The spec's layers as spyx_core modules, ``layer_<i>`` each, in order (call inside a Haiku
    transform); untrained decays are constants taken from ``weights``; ``conv`` is the
    convolutions' implementation (``spyx_core.CONV_IMPLS``)."""
    spike_fn = spyx_core.surrogate(spec.surrogate, spec.surrogate_slope)
    return [_module(spec, weights, i, layer, spike_fn, conv) for i, layer in enumerate(spec.layers)]


def network(
    spec: ModelSpec,
    weights: dict[str, np.ndarray],
    *,
    impl: str,
    unroll: int,
    return_counts: bool = False,
    remat_chunk: int | None = None,
    conv: str = "auto",
) -> hk.Transformed:
    """The spec's network as a Haiku transform; untrained decays are baked in as constants.

    With ``return_counts`` the network returns ``(readout, counts)``: the spike counts of every
    hidden neuron layer, ``[B, size]`` each (``spyx_core.run_sequential``, as ``remat_chunk``).
    ``conv`` is the convolutions' implementation (``spyx_core.CONV_IMPLS``).
    """
    options = {"impl": impl, "unroll": unroll, "remat_chunk": remat_chunk}

    def forward(x: jax.Array):
        layers = modules(spec, weights, conv)
        return spyx_core.run_sequential(layers, x, return_counts=return_counts, **options)

    return hk.without_apply_rng(hk.transform(forward))


def make_spec_trainer(
    spec: ModelSpec,
    weights: dict[str, np.ndarray],
    *,
    batch_size: int,
    time_steps: int,
    impl: str = DEFAULT_IMPL,
    unroll: int = 1,
    remat_chunk: int | None = None,
    augment: spyx_core.Augment | None = None,
    regulariser: spyx_core.Regulariser | None = None,
    decode: spyx_core.Decode = spyx_core.unpack_time,
) -> spyx_core.Trainer:
    """The spec's compiled-epoch trainer (``trainer_for``) around spyx_core's network.

    A ``regulariser`` makes the network return its spike counts (``network(return_counts=True)``).
    """
    counting = regulariser is not None
    options = {"impl": impl, "unroll": unroll, "remat_chunk": remat_chunk}
    apply = network(spec, weights, return_counts=counting, **options).apply
    return trainer_for(
        apply,
        spec,
        batch_size=batch_size,
        time_steps=time_steps,
        augment=augment,
        regulariser=regulariser,
        decode=decode,
    )


class SpyxCoreAdapter(JaxAdapter):
    """spyx_core, as ``spyx_core.run_sequential``'s ``impl`` (default ``DEFAULT_IMPL``), ``unroll`` and
    ``remat_chunk`` say; ``VARIANTS`` name the combinations the harness runs side by side."""

    name = "spyx_core"
    nir_support = "frameworks.nir.spyx_core_nir:SpyxCoreNIR"
    VARIANTS: ClassVar[dict[str, dict]] = {
        "fused": {"impl": "fused"},
        "fused_spikes": {"impl": "fused_spikes"},
        "epoch": {"impl": DEFAULT_IMPL, "program": "epoch", "conv": "auto"},
        "step": {"impl": DEFAULT_IMPL, "program": "step", "conv": "auto"},
        "step-xla": {"impl": DEFAULT_IMPL, "program": "step", "conv": "xla"},
        "step-hybrid": {"impl": DEFAULT_IMPL, "program": "step", "conv": "hybrid"},
        "fused-remat32": {"impl": DEFAULT_IMPL, "remat_chunk": 32},
        "layerwise": {"impl": "layerwise"},
        "scan": {"impl": "scan"},
        "scan-unroll32": {"impl": "scan", "unroll": 32},
        "fused-tf32": {"impl": DEFAULT_IMPL, "matmul_precision": "tensorfloat32"},
    }
    """``spyx_core@epoch`` is the paper's one compiled program per epoch (its convolutions as
    patches on the CPU: XLA's are slow inside the epoch's loop), ``spyx_core@step`` one program
    per step (the CPU's default for a network that convolves); ``step-xla`` is one program per
    step with XLA's own convolution gradients on all frames at once, ``step-hybrid`` with the weight
    gradient as patch matmuls (what the CPU's default ``"pieces"`` improves on);
    ``spyx_core@scan`` is the step-by-step way Spyx runs the network (the paper's unroll: 32);
    ``fused-remat32`` rematerialises pieces of 32 steps (less memory for long sequences);
    ``fused`` computes the spikes and their surrogate apart from the fused operation (the default
    before ``DEFAULT_IMPL``), ``fused_spikes`` inside it, as ``spyx_core`` itself does (named for
    the rows that compare the two);
    ``fused-tf32`` runs the matmuls in TF32 on GPUs (not the canonical float32: marked inexact)."""

    def __init__(
        self,
        impl: str = DEFAULT_IMPL,
        unroll: int = 1,
        remat_chunk: int | None = None,
        matmul_precision: str = MATMUL_PRECISION,
        program: str = "auto",
        conv: str = "auto",
    ):
        if impl not in spyx_core.IMPLEMENTATIONS:
            raise ValueError(f"unknown impl {impl!r}; choose one of {spyx_core.IMPLEMENTATIONS}")
        if program not in ("auto", *PROGRAMS):
            raise ValueError(f"unknown program {program!r}; choose one of auto, {', '.join(PROGRAMS)}")
        if conv not in spyx_core.CONV_IMPLS:
            raise ValueError(f"unknown conv {conv!r}; choose one of {spyx_core.CONV_IMPLS}")
        self.impl, self.unroll, self.remat_chunk = impl, unroll, remat_chunk
        self.matmul_precision, self.program, self.conv = matmul_precision, program, conv
        self.evaluation_conv = conv  # Session.evaluate's (``for_platform``)
        if matmul_precision != MATMUL_PRECISION:
            self.exact = False
            self.semantics = REDUCED_PRECISION.format(precision=matmul_precision)

    @property
    def run_options(self) -> dict:
        """The keyword arguments of ``spyx_core.run_sequential`` this adapter runs with."""
        return {"impl": self.impl, "unroll": self.unroll, "remat_chunk": self.remat_chunk}

    def describe(self) -> str:
        """The implementation, for result rows: e.g. ``program=step conv=hybrid impl=fused
        unroll=1 remat_chunk=None matmul_precision=highest``."""
        options = {"program": self.program, "conv": self.conv, **self.run_options}
        options["matmul_precision"] = self.matmul_precision
        return " ".join(f"{name}={value}" for name, value in options.items())

    def network(self, spec: ModelSpec, weights: dict[str, np.ndarray]) -> Apply:
        # Outside a session (readout, loss_and_grads: the equivalence tests) "auto" is resolved for
        # JAX's default backend, so that those tests check the convolution sessions train with.
        conv = self.for_platform(jax.default_backend(), spec).conv
        return network(spec, weights, conv=conv, **self.run_options).apply

    def for_platform(self, platform: str, spec: ModelSpec) -> SpyxCoreAdapter:
        """This adapter with ``"auto"`` ``program`` and ``conv`` resolved for ``spec`` on
        ``platform`` (``PROGRAM_DEFAULTS``, then ``CONV_DEFAULTS``); explicit choices stay."""
        resolved = copy.copy(self)
        if resolved.program == "auto":
            resolved.program = PROGRAM_DEFAULTS.get((platform, convolves(spec)), "epoch")
        if resolved.conv == "auto":
            resolved.conv = CONV_DEFAULTS.get((platform, resolved.program), "xla")
            # evaluation loops over batches in one program, as the epoch program does
            resolved.evaluation_conv = CONV_DEFAULTS.get((platform, "epoch"), "xla")
        return resolved

    def evaluation_network(self, spec: ModelSpec, weights: dict[str, np.ndarray]) -> Apply:
        return network(spec, weights, conv=self.evaluation_conv, **self.run_options).apply

    def session(self, spec, weights, data, *, device, batch_size, seed):
        adapter = self.for_platform(self._device(device).platform, spec)
        return JaxAdapter.session(
            adapter, spec, weights, data, device=device, batch_size=batch_size, seed=seed
        )

    def kernels(self, spec, weights, spikes, *, device):
        return JaxAdapter.kernels(
            self.for_platform(self._device(device).platform, spec), spec, weights, spikes, device=device
        )
