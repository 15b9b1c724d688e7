"""``torch_plain``'s module under ``torch.compile`` (inductor), compiled apart from the timed epochs.

``Session.compile`` runs one forward and backward pass on a batch of the staged data and throws the
gradients away (no optimiser step, so the weights stay as given): dynamo traces the unrolled time
loops and inductor compiles the forward and backward graphs, and the harness times this as
``compile_s``. The epochs then run the compiled graphs. The micro-benchmark's ``Kernels.compile``
likewise runs one no-grad forward and one forward+backward call (two graphs: dynamo compiles the
no-grad forward apart), timed as ``compile_s``. The readout and gradients of the
equivalence checks also run compiled (the readout through the same, grad-enabled graph), so the
conformance suite tests the compiled numerics. ``evaluate`` (untimed) runs the eager module, so that
it compiles no second, inference-only graph.

Three workarounds for torch 2.13, each narrow:

- inductor's FX-graph cache is off: its cache key pickles the graph, and pickle's module scan trips
  over Haiku's flax shim (``haiku.experimental.flax`` raises ImportError, not AttributeError, for
  any attribute when flax is absent), which every torch adapter imports through spyx_core. So
  ``compile_s`` is a full compile in every process (inductor's on-disk C++ kernel cache still
  applies);
- dynamo's own ``DeprecationWarning`` about instantiating ``autograd.Function`` is silenced around
  the compiled calls (``QuietlyCompiled``);
- dynamo's caches are cleared when another spec is compiled (``_fresh_dynamo_for``).

On the CPU inductor needs a C++ compiler; where compilation fails, the session raises
``Unsupported`` with inductor's reason.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np
import torch
from torch._dynamo.exc import BackendCompilerFailed
from torch._inductor.exc import InductorError

from frameworks.adapter import SpikeData, Unsupported
from frameworks.adapters.torch_plain_adapter import TorchPlainAdapter
from frameworks.spec import ModelSpec
from frameworks.torch_base import TorchKernels, TorchSession, integral_crossentropy, time_major

_COMPILE_ERRORS = (BackendCompilerFailed, InductorError)
_DYNAMO_WARNING = r"<class 'torch\.autograd\.function\.Function'> should not be instantiated"

with warnings.catch_warnings():
    # inductor imports torch.utils.mkldnn, whose import warns under torch 2.13 (its own code)
    warnings.filterwarnings(
        "ignore", "`torch.jit.script_method` is deprecated", DeprecationWarning, "torch"
    )
    import torch.utils.mkldnn


class QuietlyCompiled(torch.nn.Module):
    """``torch.compile(module)``, called with one deprecation warning of dynamo's own silenced.

    Dynamo instantiates ``torch.autograd.Function`` while it traces the surrogate spike, and torch
    2.13 warns about that (``DeprecationWarning: ... should not be instantiated``) from its own
    code; under ``-W error`` the trace would fail.

    Attributes:
        eager: the module itself (``canonical`` is its parameters).
        compiled: ``torch.compile(eager)``.
    """

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.eager, self.canonical = module, module.canonical
        self.compiled = torch.compile(module, options={"fx_graph_cache": False})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", _DYNAMO_WARNING, DeprecationWarning)
            return self.compiled(x)


@contextlib.contextmanager
def compile_failures_unsupported() -> Iterator[None]:
    """Turns inductor's compile failures (e.g. no C++ compiler on the CPU) into ``Unsupported``."""
    try:
        yield
    except _COMPILE_ERRORS as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise Unsupported(f"torch.compile fails here: {type(error).__name__}: {first}") from error


class CompiledSession(TorchSession):
    """A ``TorchSession`` of a ``QuietlyCompiled`` module; ``compile`` warms it up."""

    compile_kind = "torch.compile (inductor): forward+backward of one batch, no update"

    def compile(self) -> None:
        """Compiles the forward and backward graphs on the first ``batch_size`` samples.

        Raises:
            Unsupported: inductor cannot compile here (e.g. no C++ compiler on the CPU).
        """
        index = torch.arange(self.batch_size, device=self.device)
        with compile_failures_unsupported():
            readout = self.module(time_major(self.spikes[index]))
            integral_crossentropy(readout, self.labels[index], self.spec).backward()
        self.optimizer.zero_grad(set_to_none=True)

    def evaluate(self, data: SpikeData) -> tuple[float, float]:
        """As ``TorchSession.evaluate``, with the eager module (module docstring)."""
        compiled, self.module = self.module, self.module.eager
        try:
            return super().evaluate(data)
        finally:
            self.module = compiled


class CompiledKernels(TorchKernels):
    """``TorchKernels`` of a ``QuietlyCompiled`` module; ``compile`` builds both graphs it times."""

    compile_kind = "torch.compile (inductor): the no-grad forward and the forward+backward graphs"

    def compile(self) -> None:
        """Runs one forward (no grad: dynamo compiles a separate inference graph) and one
        forward+backward call, so that the timed calls find both graphs compiled.

        Raises:
            Unsupported: inductor cannot compile here (e.g. no C++ compiler on the CPU).
        """
        with compile_failures_unsupported():
            self.forward()
            self.forward_backward()


_COMPILED_SPEC: dict[str, ModelSpec] = {}


def _fresh_dynamo_for(spec: ModelSpec) -> None:
    """Clears dynamo's caches when ``spec`` differs from the last one compiled in this process.

    torch 2.13's dynamo fails to recompile the surrogate ``autograd.Function`` with other constants
    (another surrogate or slope): ``AssertionError: lift_tracked_freevar_to_input should not be
    called on root SubgraphTracer``. A fresh cache compiles any spec; the same spec (other module
    instances, other batch sizes) keeps reusing its graphs.
    """
    if _COMPILED_SPEC.get("last", spec) != spec:
        torch._dynamo.reset()
    _COMPILED_SPEC["last"] = spec


class TorchCompileAdapter(TorchPlainAdapter):
    """The plain PyTorch model under ``torch.compile`` (module docstring)."""

    name = "torch_compile"
    session_class = CompiledSession
    kernels_class = CompiledKernels

    def model(self, spec: ModelSpec, weights: dict[str, np.ndarray]) -> torch.nn.Module:
        """``torch_plain``'s module, compiled lazily on its first call."""
        _fresh_dynamo_for(spec)
        return QuietlyCompiled(super().model(spec, weights))

    def readout(self, spec, weights, spikes):
        """The compiled training graph's readout (grad enabled, then detached): no second graph."""
        module = self.model(spec, weights)
        return module(time_major(torch.from_numpy(spikes))).detach().numpy()
