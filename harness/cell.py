"""A cell: one framework on one configuration, the unit that runs in its own process."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from harness.errors import InvalidConfiguration


@dataclass(frozen=True, kw_only=True)
class Cell:
    """Everything a worker process needs to build, train and time one model.

    ``n_samples=None`` takes the whole dataset.
    """

    framework: str
    task: str = "shd"
    device: str = "cpu"
    hidden: int = 128  # H of SHD; n, the layer size, of the micro-benchmark
    width: int = 1  # channel multiplier m of the N-MNIST conv net
    channels: int = 128
    time_steps: int = 256
    batch_size: int = 256
    n_samples: int | None = None
    epochs: int = 3
    seed: int = 0
    train_beta: bool = True
    neuron: str = "LIF"  # the hidden neurons of the SHD network (frameworks.spec.NEURON_TYPES)
    # None takes the task's own setting from its spec builder (frameworks.spec).
    surrogate: str | None = None
    surrogate_slope: float | None = None
    learning_rate: float | None = None
    data: str = "auto"  # auto | real | synthetic
    data_dir: str | None = None
    # Measure test accuracy after training; None is "auto": yes exactly when the data is real
    # (``evaluates``), resolved here when ``data`` names the kind, else by the worker once loaded.
    evaluate: bool | None = None
    # For projections to the paper's protocol: its epoch count and full training-set size.
    projected_epochs: int | None = None
    reference_samples: int | None = None

    def __post_init__(self) -> None:
        """Raises ``InvalidConfiguration`` (a ``ValueError``) naming the impossible field."""
        for name in ("hidden", "width", "channels", "time_steps", "batch_size", "epochs"):
            if getattr(self, name) < 1:
                raise InvalidConfiguration(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.n_samples is not None and self.n_samples < self.batch_size:
            raise InvalidConfiguration(
                f"{self.n_samples} samples cannot fill one batch of {self.batch_size}"
            )
        # A resolved value keeps the key of an explicit one: synthetic cells keep their old keys.
        object.__setattr__(self, "evaluate", evaluates(self.task, self.data, self.evaluate))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def key(self) -> str:
        """A stable identity of the whole configuration: a results folder holds each key once."""
        text = json.dumps(self.as_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cell:
        return cls(**data)

    def label(self) -> str:
        size = size_label(self)
        shape = f"{size} B={self.batch_size} T={self.time_steps}"
        return f"{self.framework} {self.task} {shape} on {self.device}"


def size_label(config: Cell | Any) -> str:
    """The task's size as tables and labels print it: ``m=<width>`` of N-MNIST, else ``H=<hidden>``
    (of a ``Cell`` or anything with its ``task``, ``width`` and ``hidden``, e.g. a ``Row``)."""
    return f"m={config.width}" if config.task == "nmnist" else f"H={config.hidden}"


AUTO_EVALUATE = {"real": True, "synthetic": False}
"""Whether an ``evaluate=None`` cell measures test accuracy, by the kind of its data: the real
test split says how well a framework learns; the synthetic twin's says only that training works."""


def evaluates(task: str, data: str, asked: bool | None) -> bool | None:
    """Whether a cell of ``task`` on ``data`` (a kind, or "auto") measures test accuracy.

    ``asked`` when given, else ``AUTO_EVALUATE`` of the kind; None while the kind is not known
    ("auto" data, resolved once loaded). The micro-benchmark has no test split: always False.

    Raises:
        InvalidConfiguration: evaluation asked of a micro-benchmark cell.
    """
    if task == "micro":
        if asked:
            raise InvalidConfiguration("the micro-benchmark has no test split to evaluate")
        return False
    return AUTO_EVALUATE.get(data) if asked is None else asked
