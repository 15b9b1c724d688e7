"""Any torch adapter's network under ``torch.compile`` (inductor): the ``@compile`` variants.

``TorchAdapter(compile={...})`` (``frameworks.torch_base.COMPILE_VARIANTS`` names the variants, e.g.
``snntorch@compile``) runs the adapter's own ``CanonicalNet`` through ``CompiledModule``. Every
compile goes through ``CountingBackend``, torch.compile's own inductor backend (the one
``torch.compile(mode=...)`` builds) with a count of the graphs it compiles and runs, so a row says
what dynamo did: graphs, graph breaks (dynamo's ``counters["graph_break"]``) and recompilations
(graphs compiled again for a frame dynamo had compiled before, its ``CompileId.frame_compile_id``).

Never a silent eager run: a compile that fails (a graph break under ``fullgraph=True``, inductor
failing, no C++ compiler on the CPU) raises ``Unsupported`` with the reason, so the cell is skipped
with it; a warm-up that ran no compiled graph at all (every frame fell back to eager) is
``Unsupported`` too; hitting dynamo's recompile limit raises instead of falling back to eager
(``fail_on_recompile_limit_hit``); and a CUDA-graph mode on a device without CUDA, where inductor
would skip the capture silently, is ``Unsupported``, as is a CUDA-graph capture inductor skips
(``triton.cudagraph_or_error``).

``Session.compile`` runs forward+backward passes on one batch of the staged data (no optimiser
step, the weights stay as given) until a pass compiles no new graph (at most ``WARMUP_PASSES``), so
``compile_s`` holds the recompilations a model needs on its second call (snnTorch's ``Leaky``
keeps its membrane in a buffer whose ``requires_grad`` changes after the first call, which
recompiles it once) and the one steady pass that shows none is left. ``Kernels.compile`` likewise
runs forward (no grad: a separate inference graph) and forward+backward pairs. The readout and
gradients of the equivalence checks run compiled (the readout through the grad-enabled training
graph), so the conformance checks test the compiled numerics. ``evaluate`` (untimed) runs the eager
module, so that it compiles no inference graph.

Workarounds for torch 2.13, each narrow:

- inductor's FX-graph cache is off: its cache key pickles the graph, and pickle's module scan trips
  over Haiku's flax shim (``haiku.experimental.flax`` raises ImportError, not AttributeError, for
  any attribute when flax is absent), which every torch adapter imports through spyx_core. So
  ``compile_s`` is a full compile in every process (inductor's on-disk C++ kernel cache still
  applies);
- two warnings of dynamo's own tracing are silenced around the compiled calls (``CompiledModule``):
  a ``DeprecationWarning`` about instantiating ``autograd.Function`` (the surrogate spike), and a
  ``UserWarning`` about reading ``.grad`` of a non-leaf tensor (snnTorch's membrane buffer, which
  dynamo inspects while it guards on it);
- dynamo's caches are cleared for every session and kernels (their counts and ``compile_s`` are
  their own) and, for the equivalence checks, when another framework, spec or option set is
  compiled (``shared_backend``): torch 2.13's dynamo fails to recompile the surrogate
  ``autograd.Function`` with other constants (``AssertionError: lift_tracked_freevar_to_input
  should not be called on root SubgraphTracer``).
"""

from __future__ import annotations

import contextlib
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch._dynamo
from torch._dynamo.exc import BackendCompilerFailed, FailOnRecompileLimitHit
from torch._dynamo.exc import Unsupported as DynamoUnsupported
from torch._dynamo.utils import counters
from torch._guards import CompileContext, CompileId

from frameworks.adapter import CompileStats, SpikeData, Unsupported
from frameworks.spec import ModelSpec
from frameworks.torch_base import TorchKernels, TorchSession, integral_crossentropy, time_major

with warnings.catch_warnings():
    # inductor imports torch.utils.mkldnn, whose import warns under torch 2.13 (its own code)
    warnings.filterwarnings(
        "ignore", "`torch.jit.script_method` is deprecated", DeprecationWarning, "torch"
    )
    import torch.utils.mkldnn
    from torch._inductor import list_mode_options

_DYNAMO_WARNINGS = (
    (r"<class 'torch\.autograd\.function\.Function'> should not be instantiated", DeprecationWarning),
    (r"The \.grad attribute of a Tensor that is not a leaf Tensor is being accessed", UserWarning),
)
"""Warnings dynamo's own tracing raises (module docstring); under ``-W error`` a trace would fail."""
_COMPILE_ERRORS = (BackendCompilerFailed, DynamoUnsupported, FailOnRecompileLimitHit)
WARMUP_PASSES = 3
"""Most warm-up passes ``compile`` runs; it stops at the first that compiles no new graph."""
CUDA_GRAPH_OPTION = "triton.cudagraphs"


@dataclass(frozen=True)
class CompileOptions:
    """The arguments of ``torch.compile`` a variant sets (torch's defaults otherwise).

    Raises:
        Unsupported: a mode inductor does not know (the message lists them).
    """

    mode: str = "default"
    fullgraph: bool = False
    dynamic: bool | None = None

    def __post_init__(self) -> None:
        modes = list_mode_options()
        if self.mode not in modes:
            raise Unsupported(f"unknown torch.compile mode {self.mode!r}; choose one of {list(modes)}")

    @property
    def cuda_graphs(self) -> bool:
        """Whether this mode captures CUDA graphs (``reduce-overhead``, ``max-autotune``)."""
        return bool(list_mode_options(self.mode, self.dynamic).get(CUDA_GRAPH_OPTION))

    def inductor_options(self) -> dict[str, Any]:
        """Inductor options on top of the mode's: the FX-graph cache off (module docstring), and
        a skipped CUDA-graph capture an error instead of a silent eager replay."""
        strict_cuda_graphs = {"triton.cudagraph_or_error": True} if self.cuda_graphs else {}
        return {"fx_graph_cache": False} | strict_cuda_graphs

    def as_dict(self) -> dict[str, Any]:
        """What the row records (``Row.compile_options``)."""
        chosen = {"mode": self.mode, "fullgraph": self.fullgraph, "dynamic": self.dynamic}
        return {"backend": "inductor"} | chosen

    def describe(self) -> str:
        return f"torch.compile(mode={self.mode!r}, fullgraph={self.fullgraph}, dynamic={self.dynamic})"

    def check_device(self, device: torch.device) -> None:
        """Raises Unsupported for a CUDA-graph mode off CUDA, where inductor would skip the graphs
        silently."""
        if self.cuda_graphs and device.type != "cuda":
            raise Unsupported(
                f"mode={self.mode!r} captures CUDA graphs, which need a CUDA device "
                f"(not {device.type}); inductor would skip them silently there"
            )


class CountingBackend:
    """torch.compile's inductor backend for ``options``, counting the graphs it compiles (with
    dynamo's compile id of each) and the calls of compiled graphs."""

    def __init__(self, options: CompileOptions):
        self.options = options
        # The object torch.compile(mode=..., options=...) builds for backend="inductor"; built here
        # so that the mode and the inductor options apply together (torch.compile takes one).
        self.inductor = torch._TorchCompileInductorWrapper(
            options.mode, options.inductor_options(), options.dynamic
        )
        self.compile_ids: list[CompileId | None] = []
        self.calls = 0

    def __call__(self, graph: torch.fx.GraphModule, example_inputs: list) -> Any:
        self.compile_ids.append(CompileContext.current_compile_id())
        compiled = self.inductor(graph, example_inputs)

        def run(*args: Any) -> Any:
            self.calls += 1
            return compiled(*args)

        return run

    def reset(self) -> None:
        """Called by ``torch._dynamo.reset``: the CUDA-graph trees go with the caches."""
        self.inductor.reset()

    @property
    def recompiles(self) -> int:
        """Graphs compiled for a frame dynamo had compiled before (``frame_compile_id`` > 0)."""
        return sum(1 for cid in self.compile_ids if cid is not None and cid.frame_compile_id)


class CompiledModule(torch.nn.Module):
    """``torch.compile(module)`` through a ``CountingBackend``; each call with dynamo's own
    warnings silenced (module docstring), the recompile limit an error rather than an eager
    fallback, and, in a CUDA-graph mode, a new CUDA-graph step marked first (the last call's
    outputs are not read after the next call).

    Attributes:
        eager: the module itself (``canonical`` is its parameters).
        compiled: ``torch.compile(eager, backend=backend, ...)``.
        backend: the ``CountingBackend``.
    """

    def __init__(self, module: torch.nn.Module, options: CompileOptions, backend: CountingBackend):
        super().__init__()
        self.eager, self.canonical = module, module.canonical
        self.backend, self.options = backend, options
        self.compiled = torch.compile(
            module, backend=backend, fullgraph=options.fullgraph, dynamic=options.dynamic
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.options.cuda_graphs:
            torch.compiler.cudagraph_mark_step_begin()
        with warnings.catch_warnings(), torch._dynamo.config.patch(fail_on_recompile_limit_hit=True):
            for message, category in _DYNAMO_WARNINGS:
                warnings.filterwarnings("ignore", message, category)
            return self.compiled(x)


@contextlib.contextmanager
def compile_failures_unsupported(options: CompileOptions) -> Iterator[None]:
    """Turns dynamo's and inductor's compile failures into ``Unsupported`` naming the options."""
    try:
        yield
    except _COMPILE_ERRORS as error:
        text = str(error).strip()
        first = text.splitlines()[0] if text else ""
        raise Unsupported(f"{options.describe()} fails here: {type(error).__name__}: {first}") from error


_SHARED: dict[str, Any] = {}


def shared_backend(key: tuple, options: CompileOptions) -> CountingBackend:
    """The backend of the equivalence checks' models for ``key`` (framework, spec, options): the
    same object while the key stays, so that their models reuse each other's graphs (dynamo guards
    on the backend); dynamo's caches cleared when the key changes (module docstring)."""
    if _SHARED.get("key") != key:
        torch._dynamo.reset()
        _SHARED.update(key=key, backend=CountingBackend(options))
    return _SHARED["backend"]


def fresh_backend(options: CompileOptions) -> CountingBackend:
    """A backend for a session or kernels: dynamo's caches cleared, so every graph is its own."""
    torch._dynamo.reset()
    _SHARED.clear()
    return CountingBackend(options)


class CompileCounter:
    """What one compiled module's backend and dynamo's counters show since it was built."""

    def __init__(self, module: CompiledModule):
        self.module = module
        self.breaks_before = Counter(counters["graph_break"])

    def stats(self) -> CompileStats:
        breaks = Counter(counters["graph_break"]) - self.breaks_before
        backend = self.module.backend
        return CompileStats(
            options=self.module.options.as_dict(),
            graphs=len(backend.compile_ids),
            graph_breaks=sum(breaks.values()),
            recompiles=backend.recompiles,
            graph_break_reasons=[reason.strip().splitlines()[0] for reason in breaks],
        )

    def warm_up(self, one_pass) -> None:
        """Runs ``one_pass`` until a pass compiles no new graph (at most ``WARMUP_PASSES``).

        Raises:
            Unsupported: dynamo or inductor cannot compile it, or no compiled graph ran (every frame
                fell back to eager; the graph breaks say why).
        """
        backend = self.module.backend
        with compile_failures_unsupported(self.module.options):
            for _ in range(WARMUP_PASSES):
                graphs = len(backend.compile_ids)
                one_pass()
                if len(backend.compile_ids) == graphs:
                    break
        if backend.calls == 0:
            why = "; ".join(self.stats().graph_break_reasons) or "no graph break was reported"
            what = self.module.options.describe()
            raise Unsupported(f"{what} ran no compiled graph (eager fallback): {why}")


class Counted:
    """What ``CompiledSession`` and ``CompiledKernels`` share: a ``CompileCounter`` of their module,
    ``compile_stats`` from it, and a ``compile_kind`` naming the options and the ``warm_up`` pass."""

    warm_up_pass = ""
    counter: CompileCounter

    def count(self, module: CompiledModule) -> None:
        self.counter = CompileCounter(module)
        self.compile_kind = f"{module.options.describe()}, inductor: {self.warm_up_pass}"

    def compile_stats(self) -> CompileStats:
        return self.counter.stats()


class CompiledSession(Counted, TorchSession):
    """A ``TorchSession`` of a ``CompiledModule``; ``compile`` warms it up (module docstring)."""

    warm_up_pass = "forward+backward of one batch until no new graph, no update"

    def __init__(self, module: CompiledModule, spec: ModelSpec, data: SpikeData, *settings):
        super().__init__(module, spec, data, *settings)  # device, batch_size, seed
        self.count(module)

    def compile(self) -> None:
        """Compiles the forward and backward graphs on the first ``batch_size`` samples.

        Raises:
            Unsupported: as ``CompileCounter.warm_up``.
        """
        index = torch.arange(self.batch_size, device=self.device)

        def one_pass() -> None:
            readout = self.module(time_major(self.spikes[index]))
            integral_crossentropy(readout, self.labels[index], self.spec).backward()

        self.counter.warm_up(one_pass)
        self.optimizer.zero_grad(set_to_none=True)

    def evaluate(self, data: SpikeData) -> tuple[float, float]:
        """As ``TorchSession.evaluate``, with the eager module (module docstring)."""
        compiled, self.module = self.module, self.module.eager
        try:
            return super().evaluate(data)
        finally:
            self.module = compiled


class CompiledKernels(Counted, TorchKernels):
    """``TorchKernels`` of a ``CompiledModule``; ``compile`` builds both graphs it times."""

    warm_up_pass = "the no-grad forward and the forward+backward graphs, until no new graph"

    def __init__(self, module: CompiledModule, spikes: np.ndarray, device: torch.device):
        super().__init__(module, spikes, device)
        self.count(module)

    def compile(self) -> None:
        """Runs no-grad forward and forward+backward pairs until a pair compiles nothing new.

        Raises:
            Unsupported: as ``CompileCounter.warm_up``.
        """
        self.counter.warm_up(lambda: (self.forward(), self.forward_backward()))


class Compiler:
    """What a ``TorchAdapter`` with ``compile`` options uses: its modules compiled, the compiled
    session and kernels types."""

    session_class = CompiledSession
    kernels_class = CompiledKernels
    readout_with_grad = True

    def __init__(self, options: dict[str, Any]):
        try:
            self.options = CompileOptions(**options)
        except TypeError as error:
            raise Unsupported(f"unknown torch.compile option: {error}") from None

    def check_device(self, device: torch.device) -> None:
        self.options.check_device(device)

    def compiled(self, module: torch.nn.Module, *, shared: tuple | None) -> CompiledModule:
        """``module`` compiled: with the equivalence checks' shared backend for key ``shared``, or
        (``None``) a fresh one."""
        if shared is None:
            backend = fresh_backend(self.options)
        else:
            backend = shared_backend((*shared, self.options), self.options)
        return CompiledModule(module, self.options, backend)
