"""What every JAX adapter shares: devices, Haiku parameter names, staging, the compiled training
epoch (``spyx_core.make_trainer``), the micro-benchmark programs and peak memory.

A JAX adapter implements one hook, ``JaxAdapter.network(spec, weights) -> apply``: a pure
``apply(params, x [T, B, ...]) -> readout [T, B, K]`` (or a spiking output layer's spikes) over
Haiku-style parameters ``{"layer_<i>": {"w": ...}}`` (``to_haiku``; untrained decays are the
network's constants). Loss, Adam, the shared sample order, staging on the device and the timed
programs are the same for every JAX adapter. An adapter whose users run the network batch-first
(Haiku's ``dynamic_unroll(time_major=False)``) sets ``batch_first``: its ``apply`` then maps
``[B, T, ...]`` to ``[B, T, K]``, and the base feeds it batch-first batches, unpacked so on the
device, and turns only its output time-major for the loss. ``STATELESS_MODULES`` builds the
stateless layers as Haiku modules, for networks that take them from here (spyx_core's).

A session trains in one of two program structures (``PROGRAMS``, the adapter's ``program``):
``"epoch"``, one compiled program per epoch (the paper's: a ``lax.scan`` over the batches), or
``"step"``, one compiled program per training step and a host loop over the batches (the same
updates in the same order; docs/cpu-performance.md says when each is faster).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax

import spyx_core
from frameworks.adapter import (
    AdapterBase,
    BackendMemory,
    EpochResult,
    SpikeData,
    Unsupported,
    package_versions,
)
from frameworks.order import epoch_key, epoch_order, permutation_from_key
from frameworks.spec import Conv2d, Flatten, Linear, MaxPool2d, ModelSpec, StatelessLayer, is_decay

DEVICES = ("cpu", "gpu", "tpu")
PROGRAMS = ("epoch", "step")
"""One compiled program per training epoch, or per training step with a host loop (module docstring)."""
MATMUL_PRECISION = "highest"  # full float32 matmuls (no TF32/bf16 passes) on every device
REDUCED_PRECISION = (
    "matmuls at JAX precision {precision!r} (TF32/bf16 passes on GPUs and TPUs; CPUs stay float32)"
)
"""The ``semantics`` of a variant that trades matmul precision for speed."""

Apply = Callable[[hk.Params, jax.Array], jax.Array]
"""``apply(params, x [T, B, ...]) -> output [T, B, ...]``: a network as a JAX adapter runs it."""


def layer_name(index: int) -> str:
    """The Haiku module name of layer ``index`` (``"layer_<index>"``)."""
    return f"layer_{index}"


STATELESS_MODULES: dict[type[StatelessLayer], Callable[..., Callable]] = {
    Linear: lambda layer, name: hk.Linear(layer.n_out, with_bias=False, name=name),
    # channel-first, as the paper's Spyx net; kernel OIHW; impl: spyx_core.CONV_IMPLS
    Conv2d: lambda layer, name, impl="auto": spyx_core.Conv2D(
        layer.out_channels, layer.kernel_size, impl=impl, name=name
    ),
    MaxPool2d: lambda layer, name: spyx_core.max_pool2d(layer.kernel_size),
    Flatten: lambda layer, name: hk.Flatten(name=name),
}
"""Stateless layer class -> ``builder(layer, name, **options)`` of its Haiku module (inside a
transform); ``Conv2d``'s one option is its ``impl``."""


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
        params.setdefault(layer_name(int(index)), {})[_HAIKU_NAMES[kind]] = jnp.asarray(value)
    return params


def from_haiku(params: hk.Params) -> dict[str, np.ndarray]:
    """Inverse of ``to_haiku``."""
    canonical = {v: k for k, v in _HAIKU_NAMES.items()}
    return {
        f"{module.removeprefix('layer_')}.{canonical[name]}": np.asarray(value)
        for module, leaves in params.items()
        for name, value in leaves.items()
    }


def unpack_bits_batch_first(packed: jax.Array, time_steps: int) -> jax.Array:
    """Bit-packed spikes ``[B, ceil(T / 8), ...]`` as uint8 ``[B, T, ...]``: ``jnp.unpackbits`` along
    time, batch first, as Spyx's examples unpack each batch on the device."""
    return jnp.unpackbits(packed, axis=1, count=time_steps)


def unpack_counts_batch_first(planes: jax.Array, time_steps: int) -> jax.Array:
    """``spyx_core.unpack_counts`` with the batch first: counts ``[B, T, ...]``."""
    return jnp.swapaxes(spyx_core.unpack_counts(planes, time_steps), 0, 1)


_DECODES: dict[tuple[str, bool], spyx_core.Decode] = {
    ("bits", False): spyx_core.unpack_time,
    ("counts", False): spyx_core.unpack_counts,
    ("bits", True): unpack_bits_batch_first,
    ("counts", True): unpack_counts_batch_first,
}
"""(encoding, batch first) -> the decoder the compiled step unpacks a staged batch with."""


def stage(
    data: SpikeData, *, batch_first: bool = False
) -> tuple[spyx_core.StagedData, spyx_core.Decode]:
    """The host dataset in its device form and the decoder the compiled step unpacks it with
    (time-major batches, or batch-first ones for a ``batch_first`` network).

    Binary spikes stay bit-packed along time; counts become time-packed bit planes
    (``spyx_core.pack_counts``): exact, and a few bits per count instead of a byte.
    """
    labels = data.labels.astype(np.int32)
    packed = spyx_core.pack_counts(data.packed) if data.encoding == "counts" else data.packed
    return spyx_core.StagedData(packed, labels), _DECODES[data.encoding, batch_first]


def time_major_output(apply: Apply) -> Apply:
    """A batch-first network whose output is turned time-major (``[B, T, K]`` -> ``[T, B, K]``), the
    layout of the loss, the accuracy and the ``Kernels`` output."""
    return lambda params, x: jnp.swapaxes(apply(params, x), 0, 1)


def _hash_shuffle(key: jax.Array, n: int) -> jax.Array:
    """The sample order every framework shares (``frameworks.order``), on the device."""
    return permutation_from_key(key, n, jnp)


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


class JaxAdapter(AdapterBase):
    """Base of the JAX adapters: a subclass sets ``name`` and ``packages`` and implements
    ``network``; ``describe`` names its implementation in result rows."""

    packages: tuple[str, ...] = ("jax", "jaxlib", "dm-haiku", "optax")
    matmul_precision: str = MATMUL_PRECISION
    batch_first: bool = False
    """Whether ``network``'s ``apply`` maps batch-first ``[B, T, ...]`` to ``[B, T, K]`` (module
    docstring); False: time-major in and out."""
    program: str = "epoch"
    """The training program's structure, one of ``PROGRAMS`` (module docstring)."""

    def network(self, spec: ModelSpec, weights: dict[str, np.ndarray]) -> Apply:
        """The spec's network as a pure ``apply(params, x)`` (module docstring).

        Raises:
            Unsupported: a layer or feature this framework cannot express.
        """
        raise NotImplementedError

    def evaluation_network(self, spec: ModelSpec, weights: dict[str, np.ndarray]) -> Apply:
        """The network ``Session.evaluate`` runs: ``network``, unless an adapter implements it
        differently for evaluation's loop over batches (which is always one program)."""
        return self.network(spec, weights)

    def describe(self) -> str:
        """The implementation that runs, for result rows (``compile_kind``)."""
        return f"matmul_precision={self.matmul_precision}"

    def versions(self) -> dict[str, str]:
        return package_versions(*self.packages, "numpy")

    def _device(self, device: str) -> jax.Device:
        if device not in DEVICES:
            raise Unsupported(f"unknown device {device!r}; choose one of {', '.join(DEVICES)}")
        try:
            return jax.devices(device)[0]
        except RuntimeError as error:
            raise Unsupported(f"JAX finds no {device} device ({error})") from None

    def device_name(self, device: str) -> str:
        found = self._device(device)
        return f"{found.platform}: {found.device_kind}"

    def layout(self, spikes: np.ndarray) -> np.ndarray:
        """Batch-first host spikes ``[B, T, ...]`` in the layout ``network`` takes."""
        return spikes if self.batch_first else np.moveaxis(spikes, 1, 0)

    def time_major_network(self, spec: ModelSpec, weights: dict[str, np.ndarray]) -> Apply:
        """``network``, its output time-major whichever layout it runs in (``time_major_output``)."""
        apply = self.network(spec, weights)
        return time_major_output(apply) if self.batch_first else apply

    def readout(self, spec, weights, spikes):
        x = jnp.asarray(self.layout(spikes), jnp.float32)
        with jax.default_matmul_precision(self.matmul_precision):
            out = jax.jit(self.time_major_network(spec, weights))(to_haiku(spec, weights), x)
        return np.asarray(out)

    def loss_and_grads(self, spec, weights, spikes, labels):
        apply, loss = self.time_major_network(spec, weights), _loss(spec)
        x = jnp.asarray(self.layout(spikes), jnp.float32)

        def objective(params):
            return loss(apply(params, x), jnp.asarray(labels))

        with jax.default_matmul_precision(self.matmul_precision):
            value, grads = jax.jit(jax.value_and_grad(objective))(to_haiku(spec, weights))
        return float(value), from_haiku(grads)

    def session(self, spec, weights, data, *, device, batch_size, seed):
        found = self._device(device)
        session = _StepSession if self.program == "step" else _Session
        return session(self, spec, weights, data, found, batch_size, seed)

    def kernels(self, spec, weights, spikes, *, device):
        apply, found = self.network(spec, weights), self._device(device)
        x, precision = self.layout(spikes), self.matmul_precision
        kernels = _Kernels(apply, spec, weights, x, found, precision, batch_first=self.batch_first)
        kernels.compile_kind = f"jax lower+compile (forward; forward+backward; {self.describe()})"
        return kernels


def peak_memory(device: jax.Device, compiled: jax.stages.Compiled | None) -> BackendMemory:
    """The device's own peak where it reports one (GPU, TPU; the CPU reports none) and the memory
    plan XLA made for ``compiled`` (None before it is compiled)."""
    stats = device.memory_stats() or {}
    in_use = stats.get("peak_bytes_in_use")
    return BackendMemory(
        xla_planned_bytes=planned_bytes(compiled),
        jax_peak_bytes_in_use=None if in_use is None else int(in_use),
    )


def planned_bytes(compiled: jax.stages.Compiled | None) -> int | None:
    """XLA's plan for ``compiled``: arguments + outputs + temporaries - aliased bytes (None: no plan)."""
    plan = compiled.memory_analysis() if compiled is not None else None
    if plan is None:
        return None
    total = (
        plan.argument_size_in_bytes
        + plan.output_size_in_bytes
        + plan.temp_size_in_bytes
        - plan.alias_size_in_bytes
    )
    return int(total)


class _Session:
    """Training in one compiled program per epoch (``program="epoch"``)."""

    def __init__(self, adapter, spec, weights, data: SpikeData, device, batch_size, seed):
        self.compile_kind = f"jax lower+compile ({adapter.describe()})"
        self.precision = adapter.matmul_precision
        self.spec, self.seed, self.device, self.batch_size = spec, seed, device, batch_size
        self._initial = {name: np.array(value) for name, value in weights.items()}  # untrained stay
        staged, decode = stage(data, batch_first=adapter.batch_first)
        trainer = trainer_for(
            adapter.time_major_network(spec, weights),
            spec,
            batch_size=batch_size,
            time_steps=data.time_steps,
            decode=decode,
        )
        with jax.default_device(device):
            self.state = jax.device_put(trainer.init(to_haiku(spec, weights)), device)
        self.data = jax.device_put(staged, device)
        self._jitted = jax.jit(self._program(trainer), donate_argnums=0)
        evaluation_apply = adapter.evaluation_network(spec, weights)
        evaluation = trainer_for(
            time_major_output(evaluation_apply) if adapter.batch_first else evaluation_apply,
            spec,
            batch_size=batch_size,
            time_steps=data.time_steps,
            decode=decode,
        )
        self._evaluate = jax.jit(evaluation.evaluate)
        self._compiled = None

    def _program(self, trainer: spyx_core.Trainer) -> Callable:
        return trainer.epoch

    def _arguments(self) -> tuple:
        """Example arguments of the program after the state, for lowering it."""
        return self.data, self._key(0)

    def _key(self, epoch: int) -> jax.Array:
        # A host scalar: jnp.uint32 would compile a conversion on the first epoch (tests/test_gates.py).
        return jax.device_put(np.uint32(epoch_key(self.seed, epoch)), self.device)

    def compile(self) -> None:
        with jax.default_matmul_precision(self.precision):
            self._compiled = self._jitted.lower(self.state, *self._arguments()).compile()

    def compiled(self) -> jax.stages.Compiled:
        """The compiled training program (for its XLA cost and memory analyses; harness/gates.py)."""
        if self._compiled is None:
            self.compile()
        return self._compiled

    def train_epoch(self, epoch: int):
        self.state, metrics = self.compiled()(self.state, self.data, self._key(epoch))
        return metrics

    def synchronize(self) -> None:
        jax.block_until_ready(self.state)

    def fetch(self, metrics) -> EpochResult:
        return EpochResult(np.asarray(metrics.loss), float(np.mean(metrics.accuracy)))

    def peak_memory(self) -> BackendMemory:
        return peak_memory(self.device, self._compiled)

    def weights(self) -> dict[str, np.ndarray]:
        # Untrained betas are constants of the program, not params: report them as given.
        current = from_haiku(jax.device_get(self.state.params))
        return {name: current.get(name, value.copy()) for name, value in self._initial.items()}

    def evaluate(self, data: SpikeData) -> tuple[float, float]:
        staged = jax.device_put(stage(data)[0], self.device)
        with jax.default_matmul_precision(self.precision):
            loss, accuracy = self._evaluate(self.state.params, staged)
        return float(loss), float(accuracy)


class _StepSession(_Session):
    """Training in one compiled program per step (``program="step"``): the host draws the epoch's
    order (``frameworks.order.epoch_order``, the order the epoch program draws on the device) and
    launches the step once per batch with that batch's sample indices; the launches queue up
    asynchronously, so the host loop costs microseconds per step."""

    def _program(self, trainer: spyx_core.Trainer) -> Callable:
        return trainer.step

    def _arguments(self) -> tuple:
        return self.data, np.zeros(self.batch_size, np.int32), self._key(0), np.int32(0)

    def train_epoch(self, epoch: int):
        program, n = self.compiled(), int(self.data.labels.shape[0])
        order = spyx_core.batch_order(
            lambda _, n: epoch_order(n, self.seed, epoch), None, n, self.batch_size
        )
        key, steps = self._key(epoch), []
        for i, index in enumerate(order.astype(np.int32)):
            self.state, metrics = program(self.state, self.data, index, key, np.int32(i))
            steps.append(metrics)
        return steps

    def fetch(self, metrics) -> EpochResult:
        losses, accuracy = zip(*((m.loss, m.accuracy) for m in jax.device_get(metrics)), strict=True)
        return EpochResult(np.asarray(losses), float(np.mean(accuracy)))


class _Kernels:
    """The ``Kernels`` protocol in JAX: the forward and the gradient of ``output.sum()`` as two
    jitted programs, lowered and compiled in ``compile``, on parameters and input staged once.

    The memory plan reported is the forward+backward program's (``peak_memory``): it computes the
    forward too, so it is the larger of the two. The input ``x`` comes in
    the network's layout; a ``batch_first`` output turns time-major on the host, in ``output``,
    outside the timed calls.
    """

    compile_kind = "jax lower+compile (forward; forward+backward)"

    def __init__(
        self,
        apply,
        spec: ModelSpec,
        weights: dict[str, np.ndarray],
        x,
        device,
        precision: str,
        *,
        batch_first: bool = False,
    ):
        self.device, self.precision, self.batch_first = device, precision, batch_first
        self.params = jax.device_put(to_haiku(spec, weights), device)
        self.x = jax.device_put(np.ascontiguousarray(x), device)

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

    def peak_memory(self) -> BackendMemory:
        return peak_memory(self.device, self._compiled[1] if self._compiled else None)

    def output(self, handle: jax.Array) -> np.ndarray:
        out = np.asarray(handle)
        return np.moveaxis(out, 1, 0) if self.batch_first else out

    def gradients(self, handle: hk.Params) -> dict[str, np.ndarray]:
        return from_haiku(jax.device_get(handle))
