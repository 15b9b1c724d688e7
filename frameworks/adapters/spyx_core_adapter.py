"""spyx_core: the canonical model in JAX + Haiku, one compiled program per training epoch (and,
for the micro-benchmark, one forward and one forward+backward program)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ClassVar

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax

import spyx_core
from frameworks.adapter import AdapterBase, EpochResult, SpikeData, Unsupported, package_versions
from frameworks.order import epoch_key, permutation_from_key
from frameworks.spec import (
    ALIF,
    IF,
    LI,
    LIF,
    RIF,
    RLIF,
    Conv2d,
    CuBaLIF,
    Flatten,
    Layer,
    Linear,
    MaxPool2d,
    ModelSpec,
    is_decay,
)

_PLATFORMS = {"cpu": "cpu", "gpu": "gpu", "tpu": "tpu"}
MATMUL_PRECISION = "highest"  # full float32 matmuls (no TF32/bf16 passes) on every device
REDUCED_PRECISION = (
    "matmuls at JAX precision {precision!r} (TF32/bf16 passes on GPUs and TPUs; CPUs stay float32)"
)
"""The ``semantics`` of a variant that trades matmul precision for speed."""


def _layer_name(index: int) -> str:
    return f"layer_{index}"


def network(
    spec: ModelSpec,
    weights: dict[str, np.ndarray],
    *,
    impl: str,
    unroll: int,
    return_counts: bool = False,
    remat_chunk: int | None = None,
) -> hk.Transformed:
    """The spec's network as a Haiku transform; untrained decays are baked in as constants.

    With ``return_counts`` the network returns ``(readout, counts)``: the spike counts of every
    hidden neuron layer, ``[B, size]`` each (``spyx_core.run_sequential``, as ``remat_chunk``).
    """
    spike_fn = spyx_core.surrogate(spec.surrogate, spec.surrogate_slope)
    options = {"impl": impl, "unroll": unroll, "remat_chunk": remat_chunk}

    def forward(x: jax.Array):
        layers = [_module(spec, weights, i, layer, spike_fn) for i, layer in enumerate(spec.layers)]
        return spyx_core.run_sequential(layers, x, return_counts=return_counts, **options)

    return hk.without_apply_rng(hk.transform(forward))


def _module(spec: ModelSpec, weights: dict[str, np.ndarray], i: int, layer: Layer, spike_fn):
    """The Haiku module of layer ``i`` (created inside the transform, named ``layer_<i>``)."""
    name, trained = _layer_name(i), spec.train_beta

    def fixed(decay: str):  # an untrained decay is the given constant; a trained one a parameter
        return None if trained else weights[f"{i}.{decay}"]

    spiking = {"theta": spec.theta, "spike_fn": spike_fn, "name": name}
    if isinstance(layer, Linear):
        return hk.Linear(layer.n_out, with_bias=False, name=name)
    if isinstance(layer, Conv2d):  # channel-first, as the paper's Spyx net; kernel OIHW
        return spyx_core.Conv2D(layer.out_channels, layer.kernel_size, name=name)
    if isinstance(layer, MaxPool2d):
        return spyx_core.max_pool2d(layer.kernel_size)
    if isinstance(layer, Flatten):
        return hk.Flatten(name=name)
    if isinstance(layer, LI):
        return spyx_core.LI(layer.size, beta=fixed("beta"), trainable_beta=trained, name=name)
    if isinstance(layer, LIF):
        return spyx_core.LIF(layer.size, beta=fixed("beta"), trainable_beta=trained, **spiking)
    if isinstance(layer, IF):
        return spyx_core.IF(layer.size, **spiking)
    if isinstance(layer, CuBaLIF):
        decays = {"alpha": fixed("alpha"), "beta": fixed("beta"), "trainable_decays": trained}
        return spyx_core.CuBaLIF(layer.size, **decays, **spiking)
    if isinstance(layer, ALIF):
        decays = {"beta": fixed("beta"), "gamma": fixed("gamma"), "trainable_decays": trained}
        return spyx_core.ALIF(layer.size, adaptation=layer.adaptation, **decays, **spiking)
    if isinstance(layer, RLIF):
        return spyx_core.RLIF(layer.size, beta=fixed("beta"), trainable_beta=trained, **spiking)
    if isinstance(layer, RIF):
        return spyx_core.RIF(layer.size, **spiking)
    raise Unsupported(f"spyx_core has no layer {type(layer).__name__}")


_HAIKU_NAMES = {
    "weight": "w",
    "alpha": "alpha",
    "beta": "beta",
    "gamma": "gamma",
    "recurrent": "w_rec",
}


def to_haiku(spec: ModelSpec, weights: dict[str, np.ndarray]) -> hk.Params:
    """Canonical names (``"0.weight"``) -> Haiku params (``{"layer_0": {"w": ...}}``)."""
    params: dict = {}
    for key, value in weights.items():
        if is_decay(key) and not spec.train_beta:
            continue
        index, kind = key.split(".")
        params.setdefault(_layer_name(int(index)), {})[_HAIKU_NAMES[kind]] = jnp.asarray(value)
    return params


def from_haiku(params: hk.Params) -> dict[str, np.ndarray]:
    """Inverse of ``to_haiku``."""
    canonical = {v: k for k, v in _HAIKU_NAMES.items()}
    return {
        f"{module.removeprefix('layer_')}.{canonical[name]}": np.asarray(value)
        for module, leaves in params.items()
        for name, value in leaves.items()
    }


def stage(data: SpikeData) -> tuple[spyx_core.StagedData, spyx_core.Decode]:
    """The host dataset in its device form and the decoder the compiled step unpacks it with.

    Binary spikes stay bit-packed along time; counts become time-packed bit planes
    (``spyx_core.pack_counts``): exact, and a few bits per count instead of a byte.
    """
    labels = data.labels.astype(np.int32)
    if data.encoding == "counts":
        return spyx_core.StagedData(spyx_core.pack_counts(data.packed), labels), spyx_core.unpack_counts
    return spyx_core.StagedData(data.packed, labels), spyx_core.unpack_time


def _hash_shuffle(key: jax.Array, n: int) -> jax.Array:
    """The sample order every framework shares (``frameworks.order``), on the device."""
    return permutation_from_key(key, n, jnp)


def make_spec_trainer(
    spec: ModelSpec,
    weights: dict[str, np.ndarray],
    *,
    batch_size: int,
    time_steps: int,
    impl: str = "fused",
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


def trainer_for(
    apply: Callable,
    spec: ModelSpec,
    *,
    batch_size: int,
    time_steps: int,
    augment: spyx_core.Augment | None = None,
    regulariser: spyx_core.Regulariser | None = None,
    decode: spyx_core.Decode = spyx_core.unpack_time,
) -> spyx_core.Trainer:
    """The compiled-epoch trainer of network ``apply``: Adam at the spec's rate, its loss, the
    shared sample order.

    The epoch key is a uint32 (``frameworks.order.epoch_key``); augmentation derives its PRNG
    key from it inside the program (``spyx_core.augment_key``).
    """
    return spyx_core.make_trainer(
        apply,
        optax.adam(spec.learning_rate),
        batch_size=batch_size,
        time_steps=time_steps,
        loss=_loss(spec),
        shuffle=_hash_shuffle,
        augment=augment,
        regulariser=regulariser,
        decode=decode,
    )


def _loss(spec: ModelSpec):
    return functools.partial(spyx_core.integral_crossentropy, smoothing=spec.label_smoothing)


class SpyxCoreAdapter(AdapterBase):
    """spyx_core, as ``spyx_core.run_sequential``'s ``impl`` (default ``"fused"``), ``unroll`` and
    ``remat_chunk`` say; ``VARIANTS`` name the combinations the harness runs side by side."""

    name = "spyx_core"
    nir_support = "frameworks.nir.spyx_core_nir:SpyxCoreNIR"
    trains_beta = True
    VARIANTS: ClassVar[dict[str, dict]] = {
        "fused": {"impl": "fused"},
        "fused-remat32": {"impl": "fused", "remat_chunk": 32},
        "layerwise": {"impl": "layerwise"},
        "scan": {"impl": "scan"},
        "scan-unroll32": {"impl": "scan", "unroll": 32},
        "fused-tf32": {"impl": "fused", "matmul_precision": "tensorfloat32"},
    }
    """``spyx_core@scan`` is the step-by-step way Spyx runs the network (the paper's unroll: 32);
    ``fused-remat32`` rematerialises pieces of 32 steps (less memory for long sequences);
    ``fused-tf32`` runs the matmuls in TF32 on GPUs (not the canonical float32: marked inexact)."""

    def __init__(
        self,
        impl: str = "fused",
        unroll: int = 1,
        remat_chunk: int | None = None,
        matmul_precision: str = MATMUL_PRECISION,
    ):
        if impl not in spyx_core.IMPLEMENTATIONS:
            raise ValueError(f"unknown impl {impl!r}; choose one of {spyx_core.IMPLEMENTATIONS}")
        self.impl, self.unroll, self.remat_chunk = impl, unroll, remat_chunk
        self.matmul_precision = matmul_precision
        if matmul_precision != MATMUL_PRECISION:
            self.exact = False
            self.semantics = REDUCED_PRECISION.format(precision=matmul_precision)

    @property
    def run_options(self) -> dict:
        """The keyword arguments of ``spyx_core.run_sequential`` this adapter runs with."""
        return {"impl": self.impl, "unroll": self.unroll, "remat_chunk": self.remat_chunk}

    def describe(self) -> str:
        """The implementation, for result rows: e.g. ``impl=fused unroll=1 remat_chunk=None
        matmul_precision=highest``."""
        options = {**self.run_options, "matmul_precision": self.matmul_precision}
        return " ".join(f"{name}={value}" for name, value in options.items())

    def versions(self) -> dict[str, str]:
        return package_versions("jax", "jaxlib", "dm-haiku", "optax", "numpy")

    def _device(self, device: str) -> jax.Device:
        if device not in _PLATFORMS:
            raise Unsupported(f"unknown device {device!r}; choose one of {', '.join(_PLATFORMS)}")
        try:
            return jax.devices(_PLATFORMS[device])[0]
        except RuntimeError as error:
            raise Unsupported(f"JAX finds no {device} device ({error})") from None

    def device_name(self, device: str) -> str:
        found = self._device(device)
        return f"{found.platform}: {found.device_kind}"

    def _apply(self, spec: ModelSpec, weights: dict[str, np.ndarray]):
        return network(spec, weights, **self.run_options).apply

    def readout(self, spec, weights, spikes):
        x = jnp.asarray(np.moveaxis(spikes, 1, 0), jnp.float32)
        with jax.default_matmul_precision(self.matmul_precision):
            out = jax.jit(self._apply(spec, weights))(to_haiku(spec, weights), x)
        return np.asarray(out)

    def loss_and_grads(self, spec, weights, spikes, labels):
        apply, loss = self._apply(spec, weights), _loss(spec)
        x = jnp.asarray(np.moveaxis(spikes, 1, 0), jnp.float32)

        def objective(params):
            return loss(apply(params, x), jnp.asarray(labels))

        with jax.default_matmul_precision(self.matmul_precision):
            value, grads = jax.jit(jax.value_and_grad(objective))(to_haiku(spec, weights))
        return float(value), from_haiku(grads)

    def session(self, spec, weights, data, *, device, batch_size, seed):
        return _Session(self, spec, weights, data, self._device(device), batch_size, seed)

    def kernels(self, spec, weights, spikes, *, device):
        apply, found = self._apply(spec, weights), self._device(device)
        kernels = _Kernels(apply, spec, weights, spikes, found, self.matmul_precision)
        kernels.compile_kind = f"jax lower+compile (forward; forward+backward; {self.describe()})"
        return kernels


def peak_memory(device: jax.Device, compiled: jax.stages.Compiled | None) -> tuple[int | None, str]:
    """Peak device memory: the device's own peak where it reports one (GPU, TPU), otherwise the
    memory plan XLA made for ``compiled`` (the CPU reports none), labelled as such."""
    stats = device.memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        return int(stats["peak_bytes_in_use"]), "jax memory_stats peak_bytes_in_use"
    plan = compiled.memory_analysis() if compiled is not None else None
    if plan is None:
        return None, "unknown"
    planned = (
        plan.argument_size_in_bytes
        + plan.output_size_in_bytes
        + plan.temp_size_in_bytes
        - plan.alias_size_in_bytes
    )
    return int(planned), "xla memory_analysis (planned: arguments+outputs+temp-aliased)"


class _Session:
    def __init__(self, adapter, spec, weights, data: SpikeData, device, batch_size, seed):
        self.compile_kind = f"jax lower+compile ({adapter.describe()})"
        self.precision = adapter.matmul_precision
        self.spec, self.seed, self.device = spec, seed, device
        self._initial = {name: np.array(value) for name, value in weights.items()}  # untrained stay
        staged, decode = stage(data)
        trainer = trainer_for(
            adapter._apply(spec, weights),
            spec,
            batch_size=batch_size,
            time_steps=data.time_steps,
            decode=decode,
        )
        with jax.default_device(device):
            self.state = jax.device_put(trainer.init(to_haiku(spec, weights)), device)
        self.data = jax.device_put(staged, device)
        self._jitted = jax.jit(trainer.epoch, donate_argnums=0)
        self._evaluate = jax.jit(trainer.evaluate)
        self._epoch = None

    def _key(self, epoch: int) -> jax.Array:
        return jax.device_put(jnp.uint32(epoch_key(self.seed, epoch)), self.device)

    def compile(self) -> None:
        with jax.default_matmul_precision(self.precision):
            lowered = self._jitted.lower(self.state, self.data, self._key(0))
            self._epoch = lowered.compile()

    def train_epoch(self, epoch: int):
        if self._epoch is None:
            self.compile()
        self.state, metrics = self._epoch(self.state, self.data, self._key(epoch))
        return metrics

    def synchronize(self) -> None:
        jax.block_until_ready(self.state)

    def fetch(self, metrics) -> EpochResult:
        return EpochResult(np.asarray(metrics.loss), float(np.mean(metrics.accuracy)))

    def peak_memory(self) -> tuple[int | None, str]:
        return peak_memory(self.device, self._epoch)

    def weights(self) -> dict[str, np.ndarray]:
        # Untrained betas are constants of the program, not params: report them as given.
        current = from_haiku(jax.device_get(self.state.params))
        return {name: current.get(name, value.copy()) for name, value in self._initial.items()}

    def evaluate(self, data: SpikeData) -> tuple[float, float]:
        staged = jax.device_put(stage(data)[0], self.device)
        with jax.default_matmul_precision(self.precision):
            loss, accuracy = self._evaluate(self.state.params, staged)
        return float(loss), float(accuracy)


class _Kernels:
    """The ``Kernels`` protocol in JAX: the forward and the gradient of ``output.sum()`` as two
    jitted programs, lowered and compiled in ``compile``, on parameters and input staged once.

    The memory plan of the forward+backward program stands for the peak where the device reports
    none (``peak_memory``): it computes the forward too, so it is the larger of the two.
    """

    compile_kind = "jax lower+compile (forward; forward+backward)"

    def __init__(
        self, apply, spec: ModelSpec, weights: dict[str, np.ndarray], spikes, device, precision: str
    ):
        self.device, self.precision = device, precision
        self.params = jax.device_put(to_haiku(spec, weights), device)
        self.x = jax.device_put(np.ascontiguousarray(np.moveaxis(spikes, 1, 0)), device)

        def total(params: hk.Params, x: jax.Array) -> jax.Array:
            return apply(params, x).sum()

        self._jitted = (jax.jit(apply), jax.jit(jax.grad(total)))
        self._compiled: tuple | None = None
        self._last = None  # the newest call's result: what ``synchronize`` waits for

    def compile(self) -> None:
        with jax.default_matmul_precision(self.precision):
            self._compiled = tuple(f.lower(self.params, self.x).compile() for f in self._jitted)

    def _call(self, which: int):
        if self._compiled is None:
            self.compile()
        self._last = self._compiled[which](self.params, self.x)
        return self._last

    def forward(self) -> jax.Array:
        return self._call(0)

    def forward_backward(self) -> hk.Params:
        return self._call(1)

    def synchronize(self) -> None:
        jax.block_until_ready(self._last)

    def peak_memory(self) -> tuple[int | None, str]:
        return peak_memory(self.device, self._compiled[1] if self._compiled else None)

    def output(self, handle: jax.Array) -> np.ndarray:
        return np.asarray(handle)

    def gradients(self, handle: hk.Params) -> dict[str, np.ndarray]:
        return from_haiku(jax.device_get(handle))
