"""SpikingJelly (``activation_based``): its multi-step parametric LIF, ``functional.plif_multi_step``.

``plif_multi_step`` is what ``neuron.ParametricLIFNode(step_mode="m")`` runs on a whole sequence
``[T, B, H]``. With ``decay_input=False`` it charges ``h[t] = v[t-1] - sigmoid(w) v[t-1] + x[t]``,
so ``1 - sigmoid(w)`` is the canonical ``beta`` (``tau = 1 / (1 - beta)``); ``v_reset=None`` makes the
reset subtractive and ``detach_reset=True`` detaches it, as canonical. The node keeps one scalar
``w`` per layer; the adapter passes a per-neuron ``w = log((1 - beta) / beta)`` computed from the
canonical, trained ``beta`` (clamped to ``[1e-6, 1 - 1e-6]``), which the function supports. The
spike uses the canonical surrogate, passed as ``surrogate_function``.

Where SpikingJelly differs: it resets right after the spike, before the next decay::

    h[t] = beta h[t-1] + x[t] - beta theta s[t-1]      (canonical: - theta s[t-1])
    s[t] = H(h[t] - theta)

so each spike lowers the next step's membrane by ``beta theta`` instead of ``theta``; neurons fire
more often than canonical. ``semantics`` says so and the conformance suite measures it.

The readout is the plain canonical LI (frameworks/adapters/torch_plain_adapter.py): SpikingJelly's
``NonSpikingLIFNode`` decays its input (``1 / tau`` factor) and ``SynapseFilter`` is a filter for
spikes (its decay depends on the input), neither the canonical leaky integrator.

SpikingJelly 2.0 has no ``backend="cupy"`` switch: it picks its CUDA or Triton kernels itself, and
only for built-in surrogates and a scalar ``w``. The canonical surrogate (a Python function) and
per-neuron ``w`` select its Torch reference implementation, on the CPU and on CUDA alike.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from spikingjelly.activation_based import functional

from frameworks.adapters.torch_plain_adapter import TorchPlainAdapter
from frameworks.spec import LIF
from frameworks.torch_base import LIFModule, lif_builder

EPS = 1e-6
SEMANTICS = (
    "resets right after the spike, before the next decay: a spike lowers the next membrane by "
    "beta*theta (canonical: theta)"
)


class JellyLIF(LIFModule):
    """A LIF layer by SpikingJelly's ``plif_multi_step`` with a per-neuron canonical ``beta``."""

    def forward(self, current: torch.Tensor) -> torch.Tensor:
        beta = self.beta.clamp(EPS, 1 - EPS)
        spikes, _, _ = functional.plif_multi_step(
            current,
            torch.zeros_like(current[0]),
            torch.log((1 - beta) / beta),  # sigmoid(w) = 1 - beta
            decay_input=False,
            v_threshold=self.theta,
            v_reset=None,
            surrogate_function=self.spike_fn,
            detach_reset=True,
        )
        return spikes


class SpikingJellyAdapter(TorchPlainAdapter):
    """SpikingJelly's multi-step LIF (module docstring)."""

    name = "spikingjelly"
    packages = ("spikingjelly", "torch")
    exact = False
    semantics = SEMANTICS
    neurons: ClassVar[dict] = {**TorchPlainAdapter.neurons, LIF: lif_builder(JellyLIF)}
