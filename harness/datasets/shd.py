"""SHD, the Spiking Heidelberg Digits, read through tonic with the paper's preprocessing.

Preprocessing (Spyx paper, ``SHD_jax.ipynb``), with ``T`` time steps (default 256):

- the events of a sample as tonic gives them: ``t`` = ``times * 1e6`` truncated to int64 µs,
  ``x`` = unit (0..699);
- ``tonic.transforms.Downsample(time_factor=1e-6 * T, spatial_factor=128 / 700)``, which truncates
  on assignment: time step ``floor(t_us * T / 1e6)`` on a fixed grid from t = 0 (the recording's
  start, not the first spike), channel ``floor(unit * 128 / 700)``. The arithmetic is tonic's
  float product ``int64(t_us * (1e-6 * T))``, which can land one step low where ``t_us * T / 1e6``
  is an exact integer: for every float16 time in [0, 1) s it equals the exact floor at
  T = 256 (the paper's), 128 and 64, but at T = 100 puts 0.25 s and 0.5 s in steps 24 and 49;
- steps ``>= T`` (events after the first second) are dropped; the raster is binarised;
- bit-packed along time (``spyx_core.pack_time``): uint8 ``[N, ceil(T / 8), 128]``.

tonic reopens the HDF5 file for every ``__getitem__`` (and never closes it), so the spikes are
read here in contiguous blocks with h5py from the very file the tonic object points at, and
converted with tonic's own ``make_structured_array`` and ``Downsample`` over a whole block of
samples at once: the same arithmetic, vectorised. The file layout: ``docs/datasets.md``.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from harness.datasets._offline import offline_dataset
from harness.datasets._real import Binned, DatasetCorrupt, DatasetMissing, FileStamp, RealSource, Warn

NAME = "shd"
ENCODING = "bits"
N_CLASSES = 20
N_UNITS = 700
CHANNELS = 128
INPUT_SHAPE = (CHANNELS,)
DEFAULT_TIME_STEPS = 256
SPLIT_SIZES = {"train": 8156, "test": 2264}
FOLDER = "SHD"  # tonic: <save_to>/<class name>
_REQUIRED = ("spikes/times", "spikes/units", "labels", "extra/keys", "extra/speaker")
_BLOCK = 256  # samples converted at once: bounds memory (~10^4 spikes per sample)


def h5_name(split: str) -> str:
    return f"shd_{split}.h5"


def missing_message(data_dir: Path, split: str, problem: str) -> str:
    """One message: what is missing, the expected layout, and where the archives come from."""
    root = data_dir / FOLDER
    return (
        f"SHD {split} data not found: {problem}. Expected {root / h5_name(split)} (layout "
        f"<data_dir>/{FOLDER}/shd_train.h5 and shd_test.h5, each extracted from shd_train.h5.zip / "
        "shd_test.h5.zip, which tonic keeps beside them). Get the archives from "
        "https://zenkelab.org/datasets/ (shd_train.h5.zip, shd_test.h5.zip), unzip them into "
        f"{root}, or use --data synthetic; choose the folder with --data-dir or SPIKEBENCH_DATA"
    )


def params(time_steps: int) -> dict:
    """Every preprocessing parameter (they key the cache)."""
    return {"time_steps": time_steps, "channels": CHANNELS, "units": N_UNITS, "window_us": 1_000_000}


def scan(data_dir: Path, split: str) -> RealSource:
    """Checks the split's HDF5 file and reads its labels (the spikes are read by ``preprocess``).

    Raises:
        DatasetMissing: the file (or its folder) does not exist.
        DatasetCorrupt: the file is not readable HDF5, lacks a dataset of the published layout, or
            its labels are not integers in 0..19, one per sample.
    """
    root = data_dir / FOLDER
    path = root / h5_name(split)
    if not root.is_dir():
        raise DatasetMissing(missing_message(data_dir, split, f"folder {root} does not exist"))
    if not path.is_file():
        found = sorted(p.name for p in root.iterdir())
        problem = f"{path.name} is not in {root} (found: {', '.join(found) or 'nothing'})"
        raise DatasetMissing(missing_message(data_dir, split, problem))
    try:
        with h5py.File(path, "r") as file:
            absent = [name for name in _REQUIRED if name not in file]
            if absent:
                raise DatasetCorrupt(
                    f"{path} lacks {', '.join(absent)}: not an SHD file of the published layout "
                    f"({', '.join(_REQUIRED)}); re-extract it from {h5_name(split)}.zip"
                )
            labels = np.asarray(file["labels"][()])
            lengths = {name: len(file[name]) for name in ("spikes/times", "spikes/units")}
    except OSError as error:  # h5py reports truncated or non-HDF5 files as OSError
        raise DatasetCorrupt(
            f"cannot read {path} as HDF5 ({error}); the file may be truncated or not an SHD file: "
            f"re-extract it from {h5_name(split)}.zip"
        ) from error
    _check_labels(path, labels, lengths)
    return RealSource(NAME, split, root, (FileStamp.of(path, root),), labels.astype(np.int32))


def _check_labels(path: Path, labels: np.ndarray, lengths: dict[str, int]) -> None:
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DatasetCorrupt(f"{path}: labels must be integers [N]; found {labels.dtype} {labels.shape}")
    if len(labels) == 0:
        raise DatasetCorrupt(f"{path} holds no samples")
    if any(n != len(labels) for n in lengths.values()):
        raise DatasetCorrupt(f"{path}: {len(labels)} labels but sample counts {lengths}")
    bad = np.flatnonzero((labels < 0) | (labels >= N_CLASSES))
    if bad.size:
        raise DatasetCorrupt(
            f"{path}: labels must lie in 0..{N_CLASSES - 1}; sample {bad[0]} has {labels[bad[0]]} "
            f"({bad.size} out of range)"
        )


def preprocess(source: RealSource, indices: np.ndarray, time_steps: int, warn: Warn) -> Binned:
    """``Task.preprocess`` for SHD: the paper's binning (module docstring) into bits, uint8
    ``[n, ceil(T / 8), 128]``. ``warn`` is unused: SHD drops nothing worth a warning.

    Raises:
        DatasetCorrupt: spikes and units differ in length, a unit is outside 0..699 or a time is
            negative or not finite.
    """
    # Imported here, not at the top: tonic imports torch (1.2 s, and threads) and spyx_core
    # imports JAX, and neither is needed by cached loads, twins, or the other framework's cells.
    import tonic

    from spyx_core import pack_time

    data_dir, split = source.root.parent, source.split
    refusal = missing_message(data_dir, split, "tonic tried to download it")
    dataset = offline_dataset(tonic.datasets.SHD, refusal, save_to=str(data_dir), train=split == "train")
    path = Path(dataset.location_on_system) / dataset.data_filename
    downsample = tonic.transforms.Downsample(
        time_factor=1e-6 * time_steps, spatial_factor=CHANNELS / N_UNITS
    )
    packed = np.empty((len(indices), -(-time_steps // 8), CHANNELS), np.uint8)
    with h5py.File(path, "r") as file:
        times_set, units_set = file["spikes/times"], file["spikes/units"]
        for start in range(0, len(indices), _BLOCK):
            block = indices[start : start + _BLOCK]
            lo, hi = int(block[0]), int(block[-1]) + 1
            # One contiguous read per block; h5py point selections on vlen data are slow.
            times = times_set[lo:hi][block - lo]
            units = units_set[lo:hi][block - lo]
            raster = np.zeros((len(block), time_steps, CHANNELS), bool)
            sample, step, channel = _bins(path, block, times, units, downsample)
            keep = step < time_steps  # the paper keeps the first T rows: the first second
            raster[sample[keep], step[keep], channel[keep]] = True
            packed[start : start + len(block)] = pack_time(raster)
    return packed, source.labels[indices]


def _bins(path, block, times, units, downsample) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sample in block, time step, channel) of every spike of a block of samples."""
    lengths = np.array([len(t) for t in times])
    if not np.array_equal(lengths, [len(u) for u in units]):
        bad = block[np.flatnonzero(lengths != [len(u) for u in units])[0]]
        raise DatasetCorrupt(f"{path}: sample {bad} has different numbers of spike times and units")
    t = np.concatenate(times) if len(times) else np.empty(0, np.float16)
    x = np.concatenate(units) if len(units) else np.empty(0, np.uint16)
    if x.size and x.max() >= N_UNITS:
        raise DatasetCorrupt(f"{path}: unit {x.max()} found; SHD units lie in 0..{N_UNITS - 1}")
    if not np.all(np.isfinite(t) & (t >= 0)):
        raise DatasetCorrupt(f"{path}: negative or non-finite spike times")
    import tonic
    from tonic.io import make_structured_array

    # Exactly tonic's HSD.__getitem__: float64 seconds * 1e6, truncated into int64 microseconds.
    events = make_structured_array(t.astype(np.float64) * 1e6, x, 1, dtype=tonic.datasets.SHD.dtype)
    events = downsample(events)
    return np.repeat(np.arange(len(block)), lengths), events["t"], events["x"]
