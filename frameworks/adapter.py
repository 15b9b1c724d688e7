"""The interface between the harness and a framework: one ``Adapter`` per framework.

An adapter builds the canonical model (``frameworks.spec``) from given initial weights, stages a
dataset on a device and trains it, one epoch per call; it also exposes a forward pass and the
loss gradients for the equivalence tests. It is registered under the entry-point group
``spikebench.frameworks`` so that a separate package can add one::

    [project.entry-points."spikebench.frameworks"]
    myframework = "my_package.adapter:MyAdapter"

Arrays crossing this interface are numpy: spikes ``[B, T, *input_shape]`` float32 (batch first,
as datasets store them), readouts ``[T, B, K]`` (time first), parameters in the canonical layout.
The micro-benchmark (``Adapter.kernels``, optional) times one forward and one forward+backward call
of a network on a fixed input instead of a training epoch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import metadata
from typing import Any, ClassVar, NamedTuple, Protocol

import numpy as np

from frameworks.spec import ModelSpec

DEVICES: tuple[str, ...] = ("cpu", "gpu", "tpu")


class Unsupported(RuntimeError):
    """This framework cannot run this request (device, model feature); the message says why."""


ENCODINGS: tuple[str, ...] = ("bits", "counts")


@dataclass(frozen=True)
class SpikeData:
    """A labelled spike dataset on the host.

    Attributes:
        packed: with ``encoding="bits"``, binary spikes bit-packed along time
            (``spyx_core.pack_time``), uint8 ``[N, ceil(T / 8), *input_shape]``; with
            ``encoding="counts"``, spike counts per bin, uint8 ``[N, T, *input_shape]``.
        labels: int32 ``[N]``.
        time_steps: ``T``.
        kind: ``"synthetic"`` or ``"real"``: every result row carries it.
        name: the dataset, e.g. ``"shd"``.
        encoding: ``"bits"`` or ``"counts"``.
    """

    packed: np.ndarray
    labels: np.ndarray
    time_steps: int
    kind: str
    name: str
    encoding: str = "bits"

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {self.encoding!r}; choose one of {ENCODINGS}")
        if self.packed.dtype != np.uint8 or self.packed.ndim < 3:
            raise ValueError("spikes must be uint8 [N, time, ...]")
        steps = -(-self.time_steps // 8) if self.encoding == "bits" else self.time_steps
        if self.packed.shape[1] != steps:
            have = self.packed.shape[1]
            raise ValueError(f"axis 1 has {have} entries; T={self.time_steps} needs {steps}")
        if self.labels.shape != (self.packed.shape[0],):
            raise ValueError("one label per sample is required")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.packed.shape[2:])

    def unpacked(self, index: np.ndarray | None = None) -> np.ndarray:
        """uint8 spikes (or counts) ``[N, T, *input_shape]``; with ``index``, of those samples only."""
        packed = self.packed if index is None else self.packed[index]
        if self.encoding == "counts":
            return packed
        return np.unpackbits(packed, axis=1, count=self.time_steps)


class EpochResult(NamedTuple):
    losses: np.ndarray  # [steps]: loss of each training step, before its update
    accuracy: float  # training accuracy over the epoch's batches


@dataclass(frozen=True)
class CompileStats:
    """What a compiler did for one session or kernels (``Session.compile_stats``; the row's
    ``compile_options``, ``graphs``, ``graph_breaks``, ``recompiles``, ``graph_break_reasons``).

    Attributes:
        options: the compile options as they ran (e.g. torch.compile's mode, fullgraph, dynamic).
        graphs: graphs compiled, recompilations included.
        graph_breaks: graph breaks (a traced frame split in two).
        recompiles: graphs compiled again for code compiled before (a guard failed).
        graph_break_reasons: the first line of each distinct graph-break reason.
    """

    options: dict[str, Any]
    graphs: int
    graph_breaks: int
    recompiles: int
    graph_break_reasons: list[str]


@dataclass(frozen=True)
class BackendMemory:
    """A backend's own peak-memory figures for one session or kernels, in bytes; None where this
    backend does not report one (the row's fields of the same names; docs/memory.md).

    Attributes:
        xla_planned_bytes: the memory XLA planned for the compiled program (``memory_analysis``:
            arguments + outputs + temporaries - aliased), on any device; a plan, not a measurement.
        jax_peak_bytes_in_use: ``device.memory_stats()["peak_bytes_in_use"]`` where the device
            reports it (GPU, TPU; the CPU does not).
        torch_max_allocated_bytes: ``torch.cuda.max_memory_allocated`` (live tensors at their peak).
        torch_max_reserved_bytes: ``torch.cuda.max_memory_reserved`` (the caching allocator's pool).
    """

    xla_planned_bytes: int | None = None
    jax_peak_bytes_in_use: int | None = None
    torch_max_allocated_bytes: int | None = None
    torch_max_reserved_bytes: int | None = None


class Session(Protocol):
    """A model and its dataset staged on one device, ready to train epoch by epoch."""

    compile_kind: str | None
    """What ``compile`` does, e.g. ``"jax lower+compile"``; None for eager frameworks."""

    def compile(self) -> None:
        """Compiles the training epoch ahead of time (a no-op for eager frameworks)."""

    def train_epoch(self, epoch: int) -> Any:
        """Launches one training epoch (maybe asynchronously); returns a handle for ``fetch``."""

    def synchronize(self) -> None:
        """Blocks until every launched device operation has finished."""

    def fetch(self, handle: Any) -> EpochResult:
        """Copies an epoch's losses and accuracy to the host."""

    def peak_memory(self) -> BackendMemory:
        """The backend's own peak-memory figures so far (an empty ``BackendMemory`` for none)."""

    def weights(self) -> dict[str, np.ndarray]:
        """The current parameters in the canonical layout."""

    def evaluate(self, data: SpikeData) -> tuple[float, float]:
        """Mean loss and accuracy over every sample of ``data`` (e.g. the test split)."""

    # Optional: ``compile_stats() -> CompileStats``, what the compiler did so far (graphs, graph
    # breaks, recompilations); the worker records it in the row when a session or kernels has it.


class Kernels(Protocol):
    """One network and one input staged on a device, for the micro-benchmark's timed calls.

    The output is the network's last layer (spikes ``[T, B, n]`` for ``micro_spec``). Calls launch
    work (maybe asynchronously) and return a handle; ``synchronize`` waits for it, and ``output`` and
    ``gradients`` copy a handle's values to the host (untimed).
    """

    compile_kind: str | None
    """What ``compile`` does, e.g. ``"jax lower+compile"``; None for eager frameworks."""

    def compile(self) -> None:
        """Compiles the forward and the forward+backward programs ahead of time (eager: no-op)."""

    def forward(self) -> Any:
        """Launches one forward pass without gradient tracking; returns the output's handle."""

    def forward_backward(self) -> Any:
        """Launches the forward pass and the backward pass of ``output.sum()`` with respect to
        every trained parameter, gradients starting from zero; returns the gradients' handle."""

    def synchronize(self) -> None:
        """Blocks until every launched device operation has finished."""

    def peak_memory(self) -> BackendMemory:
        """The backend's own peak-memory figures so far (an empty ``BackendMemory`` for none)."""

    def output(self, handle: Any) -> np.ndarray:
        """A ``forward`` handle's output on the host, ``[T, B, ...]`` float32."""

    def gradients(self, handle: Any) -> dict[str, np.ndarray]:
        """A ``forward_backward`` handle's gradients on the host, canonical names and layout."""


class Adapter(Protocol):
    """One framework's implementation of the canonical model (module docstring).

    Subclass ``AdapterBase`` (or ``frameworks.torch_base.TorchAdapter``,
    ``frameworks.jax_base.JaxAdapter``): it holds the defaults of the optional members below.
    """

    name: str
    trains_beta: bool
    """Whether the framework can train ``beta``; if not, a spec asking for it is Unsupported."""
    exact: bool
    """Whether the adapter computes the canonical model exactly (within float32 rounding)."""
    semantics: str
    """For an inexact adapter: how its model differs from the canonical one (empty when exact)."""
    VARIANTS: ClassVar[dict[str, dict[str, Any]]]
    """Variant name -> constructor keyword arguments (``frameworks.load("name@variant")``)."""

    def versions(self) -> dict[str, str]:
        """Versions of every package this adapter's numbers depend on."""

    def device_name(self, device: str) -> str:
        """The device's human name (e.g. ``"NVIDIA H100 80GB HBM3"``).

        Raises:
            Unsupported: the device is unknown to this framework or not present.
        """

    def readout(self, spec: ModelSpec, weights: dict[str, np.ndarray], spikes: np.ndarray) -> np.ndarray:
        """Forward pass on the CPU: readout ``[T, B, K]`` for spikes ``[B, T, ...]``."""

    def loss_and_grads(
        self,
        spec: ModelSpec,
        weights: dict[str, np.ndarray],
        spikes: np.ndarray,
        labels: np.ndarray,
    ) -> tuple[float, dict[str, np.ndarray]]:
        """The loss of one batch and its gradient for every trained parameter (CPU)."""

    def session(
        self,
        spec: ModelSpec,
        weights: dict[str, np.ndarray],
        data: SpikeData,
        *,
        device: str,
        batch_size: int,
        seed: int,
    ) -> Session:
        """Builds the model, stages ``data`` on ``device`` and returns a ready ``Session``.

        Every adapter visits the samples in ``frameworks.epoch_order(len(data), seed, epoch)``
        order and drops the last incomplete batch.
        """

    def kernels(
        self,
        spec: ModelSpec,
        weights: dict[str, np.ndarray],
        spikes: np.ndarray,
        *,
        device: str,
    ) -> Kernels:
        """Builds the model, stages ``spikes`` ``[B, T, ...]`` on ``device`` and returns ready
        ``Kernels`` (the micro-benchmark's forward and forward+backward calls).

        Raises:
            Unsupported: the adapter has no micro-benchmark (its cells are recorded as skipped),
                or the device or a model feature, as ``session``.
        """

    def nir(self) -> Any:
        """This framework's NIR support (``frameworks.nir.NIRSupport``).

        Raises:
            Unsupported: the framework has no NIR support, or it does not import here.
        """


class AdapterBase:
    """The defaults of an adapter's optional members; every adapter derives from it.

    A subclass sets ``name`` and implements ``versions``, ``device_name``, ``readout``,
    ``loss_and_grads`` and ``session`` (the torch and JAX bases implement those too). Optional:
    ``kernels`` (the micro-benchmark), ``nir_support`` (where its NIR support lives), ``exact`` and
    ``semantics`` (an inexact model says how it differs), ``VARIANTS``.
    """

    name: str = "unnamed"
    trains_beta: bool = True
    exact: bool = True
    semantics: str = ""
    VARIANTS: ClassVar[dict[str, dict[str, Any]]] = {}
    nir_support: ClassVar[str | None] = None
    """``"module:attribute"`` of this framework's ``NIRSupport`` class, imported only when used;
    None: no NIR support."""

    def kernels(self, spec, weights, spikes, *, device) -> Kernels:
        raise Unsupported(f"{self.name} has no micro-benchmark kernels (Adapter.kernels)")

    def nir(self) -> Any:
        if self.nir_support is None:
            raise Unsupported(f"{self.name} has no NIR support")
        module, _, attribute = self.nir_support.partition(":")
        try:
            support = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as error:  # no such module, or no such class in it
            path = self.nir_support
            raise Unsupported(f"{self.name}'s NIR support {path!r} does not import: {error}") from None
        return support()


def package_versions(*distributions: str) -> dict[str, str]:
    """Installed versions of the given distributions (``"missing"`` for absent ones)."""
    found = {}
    for name in distributions:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def check_beta_training(adapter: Adapter, spec: ModelSpec) -> None:
    """Raises Unsupported when ``spec`` trains beta and ``adapter`` cannot."""
    if spec.train_beta and not adapter.trains_beta:
        raise Unsupported(f"{adapter.name} cannot train beta, which this spec requires")
