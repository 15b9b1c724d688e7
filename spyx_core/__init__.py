"""spyx_core: a minimal, JIT-compiled Spyx in JAX + dm-haiku.

LIF-family neurons as Haiku recurrent cores, surrogate gradients, integral losses, spikes
bit-packed on the device, and a whole training epoch compiled into one program. Arrays are
time-major: ``[T, B, ...]``.
"""

from spyx_core._loss import integral_accuracy as integral_accuracy
from spyx_core._loss import integral_crossentropy as integral_crossentropy
from spyx_core._loss import integral_logits as integral_logits
from spyx_core._neurons import IF as IF
from spyx_core._neurons import LI as LI
from spyx_core._neurons import LIF as LIF
from spyx_core._neurons import if_step as if_step
from spyx_core._neurons import li_step as li_step
from spyx_core._neurons import lif_step as lif_step
from spyx_core._pack import pack_time as pack_time
from spyx_core._pack import unpack_time as unpack_time
from spyx_core._pack import unpack_time_numpy as unpack_time_numpy
from spyx_core._sequential import IMPLEMENTATIONS as IMPLEMENTATIONS
from spyx_core._sequential import run_sequential as run_sequential
from spyx_core._surrogate import DEFAULT_SLOPES as DEFAULT_SLOPES
from spyx_core._surrogate import SURROGATE_DERIVATIVES as SURROGATE_DERIVATIVES
from spyx_core._surrogate import arctan as arctan
from spyx_core._surrogate import boxcar as boxcar
from spyx_core._surrogate import fast_sigmoid as fast_sigmoid
from spyx_core._surrogate import heaviside as heaviside
from spyx_core._surrogate import superspike as superspike
from spyx_core._surrogate import surrogate as surrogate
from spyx_core._surrogate import surrogate_derivative as surrogate_derivative
from spyx_core._surrogate import triangular as triangular
from spyx_core._train import Metrics as Metrics
from spyx_core._train import StagedData as StagedData
from spyx_core._train import Trainer as Trainer
from spyx_core._train import TrainState as TrainState
from spyx_core._train import make_trainer as make_trainer
from spyx_core._train import random_shuffle as random_shuffle

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_SLOPES",
    "IF",
    "IMPLEMENTATIONS",
    "LI",
    "LIF",
    "SURROGATE_DERIVATIVES",
    "Metrics",
    "StagedData",
    "TrainState",
    "Trainer",
    "arctan",
    "boxcar",
    "fast_sigmoid",
    "heaviside",
    "if_step",
    "integral_accuracy",
    "integral_crossentropy",
    "integral_logits",
    "li_step",
    "lif_step",
    "make_trainer",
    "pack_time",
    "random_shuffle",
    "run_sequential",
    "superspike",
    "surrogate",
    "surrogate_derivative",
    "triangular",
    "unpack_time",
    "unpack_time_numpy",
]
