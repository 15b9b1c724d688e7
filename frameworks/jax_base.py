"""What every JAX adapter shares: devices, Haiku parameter names, staging, the compiled training
epoch (``spyx_core.make_trainer``), the micro-benchmark programs and peak memory.

A JAX adapter implements one hook, ``JaxAdapter.network(spec, weights) -> apply``: a pure
``apply(params, x [T, B, ...]) -> readout [T, B, K]`` (or a spiking output layer's spikes) over
Haiku-style parameters ``{"layer_<i>": {"w": ...}}`` (``to_haiku``; untrained decays are the
network's constants). Loss, Adam, the shared sample order, staging on the device and the timed
programs are the same for every JAX adapter. ``STATELESS_MODULES`` builds the stateless layers as
Haiku modules, for networks that take them from here (spyx_core's).

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
from frameworks.adapter import AdapterBase, EpochResult, SpikeData, Unsupported, package_versions
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

    def readout(self, spec, weights, spikes):
        x = jnp.asarray(np.moveaxis(spikes, 1, 0), jnp.float32)
        with jax.default_matmul_precision(self.matmul_precision):
            out = jax.jit(self.network(spec, weights))(to_haiku(spec, weights), x)
        return np.asarray(out)

    def loss_and_grads(self, spec, weights, spikes, labels):
        apply, loss = self.network(spec, weights), _loss(spec)
        x = jnp.asarray(np.moveaxis(spikes, 1, 0), jnp.float32)

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
    """Training in one compiled program per epoch (``program="epoch"``)."""

    def __init__(self, adapter, spec, weights, data: SpikeData, device, batch_size, seed):
        self.compile_kind = f"jax lower+compile ({adapter.describe()})"
        self.precision = adapter.matmul_precision
        self.spec, self.seed, self.device, self.batch_size = spec, seed, device, batch_size
        self._initial = {name: np.array(value) for name, value in weights.items()}  # untrained stay
        staged, decode = stage(data)
        trainer = trainer_for(
            adapter.network(spec, weights),
            spec,
            batch_size=batch_size,
            time_steps=data.time_steps,
            decode=decode,
        )
        with jax.default_device(device):
            self.state = jax.device_put(trainer.init(to_haiku(spec, weights)), device)
        self.data = jax.device_put(staged, device)
        self._jitted = jax.jit(self._program(trainer), donate_argnums=0)
        evaluation = trainer_for(
            adapter.evaluation_network(spec, weights),
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

    def peak_memory(self) -> tuple[int | None, str]:
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
