"""What every PyTorch adapter shares: one canonical network (``CanonicalNet``), the surrogate
spike, devices, staging, the training loop and the micro-benchmark calls (``TorchKernels``).

A torch adapter only supplies its framework's neuron modules (``TorchAdapter.neurons``, one
builder per neuron layer class) and how its users run the time loop (``TorchAdapter.loop``).
``CanonicalNet`` builds the stateless layers (``STATELESS_MODULES``), maps time-major spikes
``[T, B, ...]`` to the readout ``[T, B, K]`` (or, for a network ending with a spiking layer, its
spikes) with a Python loop over time, and lists the parameters under canonical names in
``module.canonical`` (Linear weights in torch's ``[out, in]`` layout; the adapter transposes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from frameworks.adapter import (
    AdapterBase,
    BackendMemory,
    EpochResult,
    SpikeData,
    Unsupported,
    check_beta_training,
    package_versions,
)
from frameworks.order import epoch_order
from frameworks.spec import (
    Conv2d,
    Flatten,
    Layer,
    Linear,
    MaxPool2d,
    ModelSpec,
    NeuronLayer,
    StatelessLayer,
    trained_names,
)
from spyx_core import surrogate_derivative

SpikeFn = Callable[[torch.Tensor], torch.Tensor]
Parameters = dict[str, torch.nn.Parameter]
"""A module's canonical parameters by name suffix (``"weight"``, ``"beta"``...)."""
NeuronBuilder = Callable[[ModelSpec, NeuronLayer, SpikeFn], tuple[torch.nn.Module, Parameters]]
"""Builds a framework's module for one neuron layer (``TorchAdapter.neurons``)."""


class _Spike(torch.autograd.Function):
    """Heaviside forward, the canonical surrogate derivative backward."""

    @staticmethod
    def forward(ctx, x, derivative, slope):
        ctx.save_for_backward(x)
        ctx.derivative, ctx.slope = derivative, slope
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * ctx.derivative(x, ctx.slope, torch), None, None


def spike_function(spec: ModelSpec) -> SpikeFn:
    """The spec's surrogate spike as a torch function (same maths as ``spyx_core.surrogate``)."""
    derivative = surrogate_derivative(spec.surrogate)
    return lambda x: _Spike.apply(x, derivative, spec.surrogate_slope)


def _is_linear_weight(name: str, ndim: int) -> bool:
    return name.endswith(".weight") and ndim == 2  # conv weights are OIHW in both conventions


def to_torch_layout(name: str, value: np.ndarray) -> torch.Tensor:
    """Canonical ``[in, out]`` Linear weights become torch's ``[out, in]``; the rest stays."""
    tensor = torch.from_numpy(np.array(value, dtype=np.float32))
    return tensor.T.contiguous() if _is_linear_weight(name, tensor.ndim) else tensor


def from_torch_layout(name: str, tensor: torch.Tensor) -> np.ndarray:
    """Inverse of ``to_torch_layout``, to numpy."""
    array = tensor.detach().cpu().numpy()
    return array.T.copy() if _is_linear_weight(name, array.ndim) else array.copy()


def load_canonical(module: torch.nn.Module, spec: ModelSpec, weights: dict[str, np.ndarray]):
    """Copies canonical weights into ``module.canonical`` and marks what trains."""
    trained = set(trained_names(spec, weights))
    with torch.no_grad():
        for name, param in module.canonical.items():
            param.copy_(to_torch_layout(name, weights[name]))
            param.requires_grad_(name in trained)
    return module


def torch_device(device: str) -> torch.device:
    """``"cpu"`` or ``"gpu"`` (CUDA) as a torch device.

    Raises:
        Unsupported: TPU, an unknown name, or no CUDA device present.
    """
    if device == "cpu":
        return torch.device("cpu")
    if device == "gpu":
        if not torch.cuda.is_available():
            raise Unsupported("torch finds no CUDA device")
        return torch.device("cuda")
    if device == "tpu":
        raise Unsupported("PyTorch adapters do not run on TPU")
    raise Unsupported(f"unknown device {device!r}; choose one of cpu, gpu, tpu")


def time_major(spikes: torch.Tensor) -> torch.Tensor:
    """Batch-first spikes ``[B, T, ...]`` as the time-major float32 input of a network."""
    return spikes.transpose(0, 1).to(torch.float32)


def prepare_device(device: torch.device) -> None:
    """Full float32 on CUDA (TF32 off, as the JAX rows) and a fresh peak-memory count."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.cuda.reset_peak_memory_stats(device)


def synchronize(device: torch.device) -> None:
    """Waits for every queued CUDA operation (CPU operations are synchronous)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory(device: torch.device) -> BackendMemory:
    """CUDA's allocator peaks since ``prepare_device``: live tensors and the cached pool. Nothing on
    the CPU, where torch keeps no count (the worker measures the process, harness.memory)."""
    if device.type != "cuda":
        return BackendMemory()
    return BackendMemory(
        torch_max_allocated_bytes=torch.cuda.max_memory_allocated(device),
        torch_max_reserved_bytes=torch.cuda.max_memory_reserved(device),
    )


def _linear(layer: Linear) -> tuple[torch.nn.Module, Parameters]:
    module = torch.nn.Linear(layer.n_in, layer.n_out, bias=False)
    return module, {"weight": module.weight}


def _conv2d(layer: Conv2d) -> tuple[torch.nn.Module, Parameters]:
    module = torch.nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, bias=False)
    return module, {"weight": module.weight}


STATELESS_MODULES: dict[type[StatelessLayer], Callable[..., tuple[torch.nn.Module, Parameters]]] = {
    Linear: _linear,
    Conv2d: _conv2d,
    MaxPool2d: lambda layer: (torch.nn.MaxPool2d(layer.kernel_size), {}),
    Flatten: lambda layer: (torch.nn.Flatten(), {}),
}
"""Stateless layer class -> its torch module and parameters, shared by every torch adapter.

Modules take ``[N, *shape]`` with channel-first feature maps, so ``Flatten`` keeps the canonical
(C, H, W) order."""

LOOPS = ("layerwise", "stepwise")


class LIFModule(torch.nn.Module):
    """What a hand-written torch LIF holds: a per-neuron ``beta`` parameter (its values come from the
    canonical weights), the threshold ``theta`` and the spike function. Subclasses write
    ``forward``; ``lif_builder`` builds them."""

    def __init__(self, size: int | tuple[int, ...], theta: float, spike_fn: SpikeFn):
        super().__init__()
        self.beta = torch.nn.Parameter(torch.zeros(size))
        self.theta, self.spike_fn = theta, spike_fn


class LIModule(torch.nn.Module):
    """What a hand-written torch leaky-integrator readout holds: a per-neuron ``beta`` parameter.
    Subclasses write ``forward``; ``li_builder`` builds them."""

    def __init__(self, size: int | tuple[int, ...]):
        super().__init__()
        self.beta = torch.nn.Parameter(torch.zeros(size))


def lif_builder(module_class: Callable[..., torch.nn.Module]) -> NeuronBuilder:
    """The builder of a LIF module ``module_class(size, theta, spike_fn)`` with a ``beta``
    parameter: the shape of the hand-written canonical LIFs (torch_plain, Norse)."""

    def build(spec: ModelSpec, layer: NeuronLayer, spike_fn: SpikeFn):
        module = module_class(layer.size, spec.theta, spike_fn)
        return module, {"beta": module.beta}

    return build


def li_builder(module_class: Callable[..., torch.nn.Module]) -> NeuronBuilder:
    """The builder of a leaky-integrator readout ``module_class(size)`` with a ``beta`` parameter."""

    def build(spec: ModelSpec, layer: NeuronLayer, spike_fn: SpikeFn):
        module = module_class(layer.size)
        return module, {"beta": module.beta}

    return build


class CanonicalNet(torch.nn.Module):
    """A spec's network as torch modules: ``layers[i]`` is ``spec.layers[i]``'s module.

    Stateless layers come from ``STATELESS_MODULES``, neuron layers from the adapter's ``neurons``
    table. ``canonical`` maps canonical names (``"0.weight"``, ``"1.beta"``) to the parameters.
    The input is time-major ``[T, B, ...]``; the output is the last layer's, ``[T, B, ...]`` (the
    LI readout's membrane, or a spiking output layer's spikes). Two ways to run the time loop:

    - ``"layerwise"``: each layer maps the whole sequence in turn; a stateless layer sees all
      ``T * B`` frames at once (one matmul), a neuron module loops over time itself
      (``module(current [T, B, ...]) -> output [T, B, ...]``), as torch_plain writes it.
    - ``"stepwise"``: one Python loop over time outside, every layer stepped in turn, as snnTorch
      and Norse users write it; a neuron module is ``module(x_t, state) -> (output_t, state)``
      with ``state=None`` at the first step.

    Raises:
        Unsupported: a layer the table has no module for; the message names the framework, the
            layer and ``unsupported``'s reason for it.
    """

    def __init__(
        self,
        spec: ModelSpec,
        spike_fn: SpikeFn,
        neurons: dict[type[NeuronLayer], NeuronBuilder],
        *,
        loop: str = "layerwise",
        framework: str = "torch",
        unsupported: dict[str, str] | None = None,
    ):
        super().__init__()
        if loop not in LOOPS:
            raise ValueError(f"unknown loop {loop!r}; choose one of {LOOPS}")
        self.loop, self.framework, self.unsupported = loop, framework, unsupported or {}
        self.layers = torch.nn.ModuleList()
        self.stateless: list[bool] = []
        self.canonical: Parameters = {}
        for i, layer in enumerate(spec.layers):
            module, params = self._module(spec, layer, spike_fn, neurons)
            self.layers.append(module)
            self.stateless.append(isinstance(layer, StatelessLayer))
            self.canonical.update({f"{i}.{name}": p for name, p in params.items()})

    def _module(self, spec: ModelSpec, layer: Layer, spike_fn: SpikeFn, neurons) -> tuple:
        if type(layer) in STATELESS_MODULES:
            return STATELESS_MODULES[type(layer)](layer)
        if type(layer) in neurons:
            return neurons[type(layer)](spec, layer, spike_fn)
        kind = type(layer).__name__
        if isinstance(layer, StatelessLayer):
            raise Unsupported(f"{self.framework} cannot run {kind}: no STATELESS_MODULES entry")
        known = ", ".join(t.__name__ for t in neurons)
        why = self.unsupported.get(kind, f"its neurons are {known}, not {kind}")
        raise Unsupported(f"{self.framework} cannot run {kind}: {why}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._layerwise(x) if self.loop == "layerwise" else self._stepwise(x)

    def _layerwise(self, x: torch.Tensor) -> torch.Tensor:
        for module, stateless in zip(self.layers, self.stateless, strict=True):
            x = module(x.flatten(0, 1)).unflatten(0, x.shape[:2]) if stateless else module(x)
        return x

    def _stepwise(self, x: torch.Tensor) -> torch.Tensor:
        states: list = [None] * len(self.layers)
        outputs = []
        for h in x:
            for i, module in enumerate(self.layers):
                if self.stateless[i]:
                    h = module(h)
                else:
                    h, states[i] = module(h, states[i])
            outputs.append(h)
        return torch.stack(outputs)


COMPILE_VARIANTS: dict[str, dict[str, Any]] = {
    "compile": {"compile": {}},
    "compile-fullgraph": {"compile": {"fullgraph": True}},
    "compile-max-autotune": {"compile": {"mode": "max-autotune-no-cudagraphs"}},
    "compile-cudagraphs": {"compile": {"mode": "reduce-overhead"}},
}
"""Every torch adapter's ``torch.compile`` variants (``snntorch@compile``...): keyword arguments of
``torch.compile`` (``frameworks.torch_compiled.CompileOptions``), inductor the backend.
``compile-cudagraphs`` (``mode="reduce-overhead"``) captures the step in CUDA graphs and needs CUDA;
``compile-max-autotune`` tunes kernels without CUDA graphs, so that it runs on the CPU too."""


class Eager:
    """How an eager ``TorchAdapter`` runs its module: as it is. ``frameworks.torch_compiled.Compiler``
    is the compiled counterpart, with the same members."""

    readout_with_grad = False
    """Whether ``readout`` runs with gradients on (a compiled module reuses its training graph, so
    that the checks compile no inference graph)."""

    @property
    def session_class(self) -> type:
        return TorchSession

    @property
    def kernels_class(self) -> type:
        return TorchKernels

    def check_device(self, device: torch.device) -> None:
        """Every device ``torch_device`` gives runs eagerly."""

    def compiled(self, module: torch.nn.Module, *, shared: tuple | None) -> torch.nn.Module:
        return module


class TorchAdapter(AdapterBase):
    """Base of the PyTorch adapters: a subclass sets ``name``, ``packages`` and its ``neurons``
    table (and ``loop`` when its users step the network through time, ``unsupported`` to say why a
    neuron is missing); ``CanonicalNet`` does the rest.

    ``compile`` (the ``COMPILE_VARIANTS``) runs the same network under ``torch.compile``
    (``frameworks.torch_compiled``); None runs it eagerly.
    """

    name = "torch"
    packages: tuple[str, ...] = ("torch",)
    trains_beta = True
    neurons: ClassVar[dict[type[NeuronLayer], NeuronBuilder]] = {}
    """Neuron layer class -> builder of this framework's module for it (``CanonicalNet``)."""
    loop: ClassVar[str] = "layerwise"
    """How the network runs through time (``CanonicalNet``'s ``loop``)."""
    unsupported: ClassVar[dict[str, str]] = {}
    """Neuron layer name -> why this framework cannot express it exactly."""
    VARIANTS: ClassVar[dict[str, dict[str, Any]]] = COMPILE_VARIANTS

    def __init__(self, *, compile: dict[str, Any] | None = None):
        self.compiler: Eager = Eager()
        if compile is not None:
            # Imported here: dynamo and inductor take seconds to import, and eager runs need neither.
            from frameworks.torch_compiled import Compiler

            self.compiler = Compiler(compile)

    def neuron_table(self) -> dict[type[NeuronLayer], NeuronBuilder]:
        """The neuron builders this instance uses: ``neurons``, unless a variant chooses others."""
        return self.neurons

    def build(self, spec: ModelSpec, spike_fn: SpikeFn) -> torch.nn.Module:
        """The framework's module for ``spec``, with ``canonical`` parameters (module docstring)."""
        return CanonicalNet(
            spec,
            spike_fn,
            self.neuron_table(),
            loop=self.loop,
            framework=self.name,
            unsupported=self.unsupported,
        )

    def versions(self) -> dict[str, str]:
        return package_versions(*self.packages, "numpy")

    def device_name(self, device: str) -> str:
        found = torch_device(device)
        if found.type == "cuda":
            return f"cuda: {torch.cuda.get_device_name(found)}"
        return "cpu"

    def model(self, spec: ModelSpec, weights: dict[str, np.ndarray]) -> torch.nn.Module:
        """The eager module with ``weights`` loaded (``canonical`` its parameters)."""
        check_beta_training(self, spec)
        return load_canonical(self.build(spec, spike_function(spec)), spec, weights)

    def runnable(self, spec: ModelSpec, weights: dict[str, np.ndarray], *, fresh: bool = False):
        """``model``, compiled when the adapter compiles: with its own fresh graphs (``fresh``, for
        sessions and kernels) or sharing the equivalence checks' graphs for this spec."""
        module = self.model(spec, weights)
        return self.compiler.compiled(module, shared=None if fresh else (type(self), spec))

    def readout(self, spec, weights, spikes):
        module = self.runnable(spec, weights)
        with torch.set_grad_enabled(self.compiler.readout_with_grad):
            out = module(time_major(torch.from_numpy(spikes)))
        return out.detach().numpy()

    def loss_and_grads(self, spec, weights, spikes, labels):
        module = self.runnable(spec, weights)
        readout = module(time_major(torch.from_numpy(spikes)))
        loss = integral_crossentropy(readout, torch.from_numpy(labels).long(), spec)
        loss.backward()
        grads = {
            name: from_torch_layout(name, p.grad)
            for name, p in module.canonical.items()
            if p.requires_grad
        }
        return loss.item(), grads

    def session(self, spec, weights, data, *, device, batch_size, seed):
        target = self._device(device)
        session_class = self.compiler.session_class
        module = self.runnable(spec, weights, fresh=True).to(target)
        return session_class(module, spec, data, target, batch_size, seed)

    def kernels(self, spec, weights, spikes, *, device):
        target = self._device(device)
        kernels_class = self.compiler.kernels_class
        return kernels_class(self.runnable(spec, weights, fresh=True).to(target), spikes, target)

    def _device(self, device: str) -> torch.device:
        """``torch_device``, checked against the compile options (CUDA graphs need CUDA)."""
        target = torch_device(device)
        self.compiler.check_device(target)
        return target


def integral_crossentropy(readout: torch.Tensor, labels: torch.Tensor, spec: ModelSpec):
    """The canonical loss on a ``[T, B, K]`` readout (``spyx_core.integral_crossentropy``)."""
    return F.cross_entropy(readout.sum(0), labels, label_smoothing=spec.label_smoothing)


class TorchSession:
    """An eager training session: the ``Session`` protocol for a torch module."""

    compile_kind: str | None = None

    def __init__(self, module, spec: ModelSpec, data: SpikeData, device, batch_size, seed):
        self.module, self.spec, self.device = module, spec, device
        self.batch_size, self.seed = batch_size, seed
        if len(data) < batch_size:
            raise ValueError(f"{len(data)} samples cannot fill one batch of {batch_size}")
        # Unpacked once, kept as uint8 on the device; each batch becomes float32 when used.
        self.spikes = torch.from_numpy(data.unpacked()).to(device)
        self.labels = torch.from_numpy(data.labels.astype(np.int64)).to(device)
        trained = [p for p in module.canonical.values() if p.requires_grad]
        self.optimizer = torch.optim.Adam(trained, lr=spec.learning_rate, betas=(0.9, 0.999))
        prepare_device(device)

    def compile(self) -> None:
        """Eager PyTorch has nothing to compile: its first-step overhead lands in epoch 0."""

    def train_epoch(self, epoch: int):
        n = self.labels.shape[0]
        steps = n // self.batch_size
        order = epoch_order(n, self.seed, epoch)[: steps * self.batch_size]
        order = torch.from_numpy(order.astype(np.int64)).to(self.device)
        losses, correct = [], []
        for index in order.view(steps, self.batch_size):
            labels = self.labels[index]
            readout = self.module(time_major(self.spikes[index]))
            loss = integral_crossentropy(readout, labels, self.spec)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            losses.append(loss.detach())
            correct.append((readout.detach().sum(0).argmax(-1) == labels).float().mean())
        return losses, correct

    def synchronize(self) -> None:
        synchronize(self.device)

    def fetch(self, handle) -> EpochResult:
        losses, correct = handle
        return EpochResult(torch.stack(losses).cpu().numpy(), float(torch.stack(correct).mean()))

    def peak_memory(self) -> BackendMemory:
        return peak_memory(self.device)

    def weights(self) -> dict[str, np.ndarray]:
        return {name: from_torch_layout(name, p) for name, p in self.module.canonical.items()}

    @torch.no_grad()
    def evaluate(self, data: SpikeData) -> tuple[float, float]:
        spikes = torch.from_numpy(data.unpacked())
        labels = torch.from_numpy(data.labels.astype(np.int64))
        loss_sum, correct = 0.0, 0
        for start in range(0, len(data), self.batch_size):
            x = time_major(spikes[start : start + self.batch_size].to(self.device))
            y = labels[start : start + self.batch_size].to(self.device)
            readout = self.module(x)
            loss_sum += integral_crossentropy(readout, y, self.spec).item() * len(y)
            correct += int((readout.sum(0).argmax(-1) == y).sum())
        return loss_sum / len(data), correct / len(data)


class TorchKernels:
    """Eager micro-benchmark calls on a torch module: the ``Kernels`` protocol.

    The input is staged once, time-major float32 on the device, so that the timed calls do no
    layout work. ``forward`` runs under ``torch.no_grad`` (no graph kept); ``forward_backward`` is
    ``module(x).sum().backward()``, every trained parameter's gradient reset to None first (as
    ``optimizer.zero_grad(set_to_none=True)``), so each call computes the gradient afresh instead
    of accumulating into the last one.
    """

    compile_kind: str | None = None

    def __init__(self, module: torch.nn.Module, spikes: np.ndarray, device: torch.device):
        self.module, self.device = module, device
        self.x = time_major(torch.from_numpy(spikes)).contiguous().to(device)
        self.trained = {name: p for name, p in module.canonical.items() if p.requires_grad}
        prepare_device(device)

    def compile(self) -> None:
        """Eager PyTorch has nothing to compile: the warm-up calls absorb first-call overhead."""

    def forward(self) -> torch.Tensor:
        with torch.no_grad():
            return self.module(self.x)

    def forward_backward(self) -> dict[str, torch.Tensor]:
        for p in self.trained.values():
            p.grad = None
        self.module(self.x).sum().backward()
        return {name: p.grad for name, p in self.trained.items()}

    def synchronize(self) -> None:
        synchronize(self.device)

    def peak_memory(self) -> BackendMemory:
        return peak_memory(self.device)

    def output(self, handle: torch.Tensor) -> np.ndarray:
        return handle.detach().cpu().numpy()

    def gradients(self, handle: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
        return {name: from_torch_layout(name, grad) for name, grad in handle.items()}
