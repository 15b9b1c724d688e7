"""spyx_core: the canonical model in JAX + Haiku, one compiled program per training epoch."""

from __future__ import annotations

import functools

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax

import spyx_core
from frameworks._order import epoch_key, permutation_from_key
from frameworks.adapter import EpochResult, SpikeData, Unsupported, package_versions
from frameworks.spec import LI, LIF, Linear, ModelSpec

_PLATFORMS = {"cpu": "cpu", "gpu": "gpu", "tpu": "tpu"}
MATMUL_PRECISION = "highest"  # full float32 matmuls (no TF32/bf16 passes) on every device


def _layer_name(index: int) -> str:
    return f"layer_{index}"


def network(spec: ModelSpec, weights: dict[str, np.ndarray], *, impl: str, unroll: int):
    """The spec's network as a Haiku transform; untrained betas are baked in as constants."""
    spike_fn = spyx_core.surrogate(spec.surrogate, spec.surrogate_slope)

    def forward(x: jax.Array) -> jax.Array:
        layers = []
        for i, layer in enumerate(spec.layers):
            name = _layer_name(i)
            fixed_beta = None if spec.train_beta else weights[f"{i}.beta"]
            if isinstance(layer, Linear):
                layers.append(hk.Linear(layer.n_out, with_bias=False, name=name))
            elif isinstance(layer, LIF):
                layers.append(
                    spyx_core.LIF(
                        layer.size,
                        beta=fixed_beta,
                        trainable_beta=spec.train_beta,
                        theta=spec.theta,
                        spike_fn=spike_fn,
                        name=name,
                    )
                )
            elif isinstance(layer, LI):
                layers.append(
                    spyx_core.LI(layer.size, beta=fixed_beta, trainable_beta=spec.train_beta, name=name)
                )
            else:
                raise Unsupported(f"spyx_core has no layer {type(layer).__name__}")
        return spyx_core.run_sequential(layers, x, impl=impl, unroll=unroll)

    return hk.without_apply_rng(hk.transform(forward))


_HAIKU_NAMES = {"weight": "w", "beta": "beta"}


def to_haiku(spec: ModelSpec, weights: dict[str, np.ndarray]) -> hk.Params:
    """Canonical names (``"0.weight"``) -> Haiku params (``{"layer_0": {"w": ...}}``)."""
    params: dict = {}
    for key, value in weights.items():
        index, kind = key.split(".")
        if kind == "beta" and not spec.train_beta:
            continue
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


def _loss(spec: ModelSpec):
    return functools.partial(spyx_core.integral_crossentropy, smoothing=spec.label_smoothing)


class SpyxCoreAdapter:
    """spyx_core, with ``impl`` = ``"layerwise"`` (default) or ``"scan"`` (Spyx's step-by-step)."""

    name = "spyx_core"
    trains_beta = True

    def __init__(self, impl: str = "layerwise", unroll: int = 1):
        if impl not in spyx_core.IMPLEMENTATIONS:
            raise ValueError(f"unknown impl {impl!r}; choose one of {spyx_core.IMPLEMENTATIONS}")
        self.impl, self.unroll = impl, unroll

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
        return network(spec, weights, impl=self.impl, unroll=self.unroll).apply

    def readout(self, spec, weights, spikes):
        x = jnp.asarray(np.moveaxis(spikes, 1, 0), jnp.float32)
        with jax.default_matmul_precision(MATMUL_PRECISION):
            out = jax.jit(self._apply(spec, weights))(to_haiku(spec, weights), x)
        return np.asarray(out)

    def loss_and_grads(self, spec, weights, spikes, labels):
        apply, loss = self._apply(spec, weights), _loss(spec)
        x = jnp.asarray(np.moveaxis(spikes, 1, 0), jnp.float32)

        def objective(params):
            return loss(apply(params, x), jnp.asarray(labels))

        with jax.default_matmul_precision(MATMUL_PRECISION):
            value, grads = jax.jit(jax.value_and_grad(objective))(to_haiku(spec, weights))
        return float(value), from_haiku(grads)

    def session(self, spec, weights, data, *, device, batch_size, seed):
        return _Session(self, spec, weights, data, self._device(device), batch_size, seed)


class _Session:
    compile_kind = "jax lower+compile"

    def __init__(self, adapter, spec, weights, data: SpikeData, device, batch_size, seed):
        self.spec, self.seed, self.device = spec, seed, device
        self._initial = {name: np.array(value) for name, value in weights.items()}  # untrained stay
        trainer = spyx_core.make_trainer(
            adapter._apply(spec, weights),
            optax.adam(spec.learning_rate),
            batch_size=batch_size,
            time_steps=data.time_steps,
            loss=_loss(spec),
            shuffle=lambda key, n: permutation_from_key(key, n, jnp),
        )
        with jax.default_device(device):
            self.state = jax.device_put(trainer.init(to_haiku(spec, weights)), device)
        staged = spyx_core.StagedData(data.packed, data.labels.astype(np.int32))
        self.data = jax.device_put(staged, device)
        self._jitted = jax.jit(trainer.epoch, donate_argnums=0)
        self._evaluate = jax.jit(trainer.evaluate)
        self._epoch = None

    def _key(self, epoch: int) -> jax.Array:
        return jax.device_put(jnp.uint32(epoch_key(self.seed, epoch)), self.device)

    def compile(self) -> None:
        with jax.default_matmul_precision(MATMUL_PRECISION):
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
        stats = self.device.memory_stats() or {}
        if "peak_bytes_in_use" in stats:
            return int(stats["peak_bytes_in_use"]), "jax memory_stats peak_bytes_in_use"
        if self._epoch is None:
            return None, "unknown"
        plan = self._epoch.memory_analysis()
        if plan is None:
            return None, "unknown"
        planned = (
            plan.argument_size_in_bytes
            + plan.output_size_in_bytes
            + plan.temp_size_in_bytes
            - plan.alias_size_in_bytes
        )
        return int(planned), "xla memory_analysis (planned: arguments+outputs+temp-aliased)"

    def weights(self) -> dict[str, np.ndarray]:
        # Untrained betas are constants of the program, not params: report them as given.
        current = from_haiku(jax.device_get(self.state.params))
        return {name: current.get(name, value.copy()) for name, value in self._initial.items()}

    def evaluate(self, data: SpikeData) -> tuple[float, float]:
        staged = spyx_core.StagedData(data.packed, data.labels.astype(np.int32))
        staged = jax.device_put(staged, self.device)
        with jax.default_matmul_precision(MATMUL_PRECISION):
            loss, accuracy = self._evaluate(self.state.params, staged)
        return float(loss), float(accuracy)
