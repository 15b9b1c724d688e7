"""spyx_core: a minimal, JIT-compiled Spyx in JAX + dm-haiku.

LIF-family neurons (LIF, IF, LI, CuBaLIF, ALIF, recurrent RLIF and RIF) as Haiku recurrent cores,
surrogate gradients, integral losses, activity regularisers, spikes bit-packed on the device,
augmentation and encodings on the device, and a whole training epoch compiled into one program.
Arrays are time-major: ``[T, B, ...]``.
"""

from spyx_core._augment import Augment as Augment
from spyx_core._augment import angle_code as angle_code
from spyx_core._augment import chain_augments as chain_augments
from spyx_core._augment import jitter_time as jitter_time
from spyx_core._augment import latency_code as latency_code
from spyx_core._augment import rate_code as rate_code
from spyx_core._augment import shift_channels as shift_channels
from spyx_core._conv import CONV_IMPLS as CONV_IMPLS
from spyx_core._conv import Conv2D as Conv2D
from spyx_core._conv import conv2d as conv2d
from spyx_core._loss import integral_accuracy as integral_accuracy
from spyx_core._loss import integral_crossentropy as integral_crossentropy
from spyx_core._loss import integral_logits as integral_logits
from spyx_core._neurons import ALIF as ALIF
from spyx_core._neurons import IF as IF
from spyx_core._neurons import LI as LI
from spyx_core._neurons import LIF as LIF
from spyx_core._neurons import ALIFState as ALIFState
from spyx_core._neurons import CuBaLIF as CuBaLIF
from spyx_core._neurons import CuBaLIFState as CuBaLIFState
from spyx_core._neurons import alif_step as alif_step
from spyx_core._neurons import clip_decay as clip_decay
from spyx_core._neurons import cuba_lif_step as cuba_lif_step
from spyx_core._neurons import if_step as if_step
from spyx_core._neurons import li_step as li_step
from spyx_core._neurons import lif_step as lif_step
from spyx_core._pack import pack_counts as pack_counts
from spyx_core._pack import pack_time as pack_time
from spyx_core._pack import unpack_counts as unpack_counts
from spyx_core._pack import unpack_time as unpack_time
from spyx_core._pack import unpack_time_numpy as unpack_time_numpy
from spyx_core._pool import max_pool2d as max_pool2d
from spyx_core._recurrent import RIF as RIF
from spyx_core._recurrent import RLIF as RLIF
from spyx_core._recurrent import rif_step as rif_step
from spyx_core._recurrent import rlif_step as rlif_step
from spyx_core._regularise import silence_penalty as silence_penalty
from spyx_core._regularise import sparsity_penalty as sparsity_penalty
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
from spyx_core._train import Decode as Decode
from spyx_core._train import Metrics as Metrics
from spyx_core._train import Regulariser as Regulariser
from spyx_core._train import StagedData as StagedData
from spyx_core._train import Trainer as Trainer
from spyx_core._train import TrainState as TrainState
from spyx_core._train import augment_key as augment_key
from spyx_core._train import batch_order as batch_order
from spyx_core._train import make_trainer as make_trainer
from spyx_core._train import random_shuffle as random_shuffle

__version__ = "0.1.0"

__all__ = [
    "ALIF",
    "CONV_IMPLS",
    "DEFAULT_SLOPES",
    "IF",
    "IMPLEMENTATIONS",
    "LI",
    "LIF",
    "RIF",
    "RLIF",
    "SURROGATE_DERIVATIVES",
    "ALIFState",
    "Augment",
    "Conv2D",
    "CuBaLIF",
    "CuBaLIFState",
    "Decode",
    "Metrics",
    "Regulariser",
    "StagedData",
    "TrainState",
    "Trainer",
    "alif_step",
    "angle_code",
    "arctan",
    "augment_key",
    "batch_order",
    "boxcar",
    "chain_augments",
    "clip_decay",
    "conv2d",
    "cuba_lif_step",
    "fast_sigmoid",
    "heaviside",
    "if_step",
    "integral_accuracy",
    "integral_crossentropy",
    "integral_logits",
    "jitter_time",
    "latency_code",
    "li_step",
    "lif_step",
    "make_trainer",
    "max_pool2d",
    "pack_counts",
    "pack_time",
    "random_shuffle",
    "rate_code",
    "rif_step",
    "rlif_step",
    "run_sequential",
    "shift_channels",
    "silence_penalty",
    "sparsity_penalty",
    "superspike",
    "surrogate",
    "surrogate_derivative",
    "triangular",
    "unpack_counts",
    "unpack_time",
    "unpack_time_numpy",
]
