"""N-MNIST read through tonic, binned into spike counts on a fixed time grid.

Binning (``T`` time steps, default 64, as the paper's ``ToFrame(n_time_bins=64)``): every sample
uses the same grid, ``WINDOW_US`` = 315 ms from the recording's start (t = 0) split into ``T``
equal steps, step ``floor(t_us * T / 315000)``; events at t >= 315 ms are dropped (a warning
reports it when more than 1 % are). 315 ms is the three 105 ms saccades of the recording
protocol, the segment length tonic's own ``stabilize`` uses. Why not ``ToFrame(n_time_bins)``:
it starts each sample's grid at that sample's first event and divides that sample's own
duration, so a time step has no fixed length across samples, and it drops each sample's last
event(s) (tonic issue #264). Counts per (step, polarity, y, x) saturate at 255 and are stored as
uint8 ``[N, T, 2, 34, 34]`` (polarity-major, NCHW per step, tonic's frame layout).

Files are listed by tonic's ``NMNIST`` constructor (sorted ``os.walk``, label = digit folder) and
read with ``tonic.io.read_mnist_file`` (which handles the timestamp-overflow records). tonic's
own existence check wants >= 10000 ``.bin`` files and both zips, so it is bypassed
(``_offline``) after ``scan`` has checked the files that are actually read. The file layout and
tonic's checks: ``docs/datasets.md``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from harness.datasets._offline import offline_dataset
from harness.datasets._real import Binned, DatasetCorrupt, DatasetMissing, FileStamp, RealSource, Warn

NAME = "nmnist"
ENCODING = "counts"
N_CLASSES = 10
SENSOR = 34
INPUT_SHAPE = (2, SENSOR, SENSOR)
DEFAULT_TIME_STEPS = 64
WINDOW_US = 315_000
SATURATION = 255
SPLIT_SIZES = {"train": 60000, "test": 10000}
FOLDER = "NMNIST"  # tonic: <save_to>/<class name>
SPLIT_FOLDERS = {"train": "Train", "test": "Test"}
ZIPS = {"train": "train.zip", "test": "test.zip"}
_RECORD = 5  # bytes per event in a .bin file
_BLOCK = 64  # samples binned at once: the count buffer is _BLOCK * T * 2312 int64


def missing_message(data_dir: Path, split: str, problem: str) -> str:
    """One message: what is missing, the expected layout, and where the archives come from."""
    root = data_dir / FOLDER
    folder = SPLIT_FOLDERS[split]
    return (
        f"N-MNIST {split} data not found: {problem}. Expected {root / folder}/<digit>/*.bin (layout "
        f"<data_dir>/{FOLDER}/Train/0..9/*.bin and Test/0..9/*.bin, extracted from train.zip / "
        "test.zip, which tonic keeps beside them). Get the archives from Mendeley Data dataset "
        "468j46mzdv (https://data.mendeley.com/datasets/468j46mzdv) or the official N-MNIST page "
        f"(https://www.garrickorchard.com/datasets/n-mnist), unzip them into {root}, or use "
        "--data synthetic; choose the folder with --data-dir or SPIKEBENCH_DATA"
    )


def params(time_steps: int) -> dict:
    """Every preprocessing parameter (they key the cache)."""
    return {"time_steps": time_steps, "window_us": WINDOW_US, "saturation": SATURATION, "grid": "t0=0"}


def scan(data_dir: Path, split: str) -> RealSource:
    """Lists the split's ``.bin`` files (as tonic does), with sizes, mtimes and labels.

    Raises:
        DatasetMissing: the split folder does not exist or holds no ``.bin`` file.
        DatasetCorrupt: a ``.bin`` file is not inside a digit folder, or its length is not a
            multiple of 5 bytes (its last event is partial: a truncated file).
    """
    root = data_dir / FOLDER
    folder = root / SPLIT_FOLDERS[split]
    if not folder.is_dir():
        raise DatasetMissing(missing_message(data_dir, split, f"folder {folder} does not exist"))
    stamps, labels = [], []
    # The same walk as tonic's NMNIST constructor, so the order (and label) of samples match.
    for path, dirs, files in os.walk(folder):
        dirs.sort()
        files.sort()
        # Plain strings, not pathlib, in this loop: it runs for each of 60000 files on every load.
        parent, digit = os.path.split(path)
        relative = f"{SPLIT_FOLDERS[split]}/{digit}/"
        for name in files:
            if not name.endswith("bin"):
                continue
            file = os.path.join(path, name)
            if parent != str(folder) or len(digit) != 1 or not digit.isdigit():
                raise DatasetCorrupt(
                    f"{file}: N-MNIST samples must lie in {folder}/<digit>/*.bin "
                    "(tonic takes the label from the digit folder's name)"
                )
            stat = os.stat(file)
            if stat.st_size % _RECORD:
                raise DatasetCorrupt(
                    f"{file} has {stat.st_size} bytes, not a multiple of {_RECORD}: its last event "
                    f"is partial (truncated file?); re-extract it from {ZIPS[split]}"
                )
            stamps.append(FileStamp(relative + name, stat.st_size, stat.st_mtime_ns))
            labels.append(int(digit))
    if not stamps:
        raise DatasetMissing(missing_message(data_dir, split, f"{folder} holds no .bin files"))
    return RealSource(NAME, split, root, tuple(stamps), np.array(labels, np.int32))


def preprocess(source: RealSource, indices: np.ndarray, time_steps: int, warn: Warn) -> Binned:
    """``Task.preprocess`` for N-MNIST: counts on the fixed grid (module docstring), uint8
    ``[n, T, 2, 34, 34]``. ``warn`` is told when more than 1 % of the events lie after the window.

    Raises:
        DatasetCorrupt: tonic lists other files than ``scan`` did, or an event lies off the sensor.
    """
    # Imported here, not at the top: tonic imports torch, which cached loads and twins never need.
    import tonic
    from tonic.io import read_mnist_file

    data_dir, split = source.root.parent, source.split
    refusal = missing_message(data_dir, split, "tonic tried to download it")
    dataset = offline_dataset(
        tonic.datasets.NMNIST, refusal, save_to=str(data_dir), train=split == "train"
    )
    listed = [Path(p) for p in dataset.data]
    if (
        listed != [source.root / f.path for f in source.files]
        or dataset.targets != source.labels.tolist()
    ):
        raise DatasetCorrupt(f"{source.root}: the files changed while being read; run again")
    cells = time_steps * int(np.prod(INPUT_SHAPE))
    counts = np.empty((len(indices), time_steps, *INPUT_SHAPE), np.uint8)
    dropped = total = 0
    for start in range(0, len(indices), _BLOCK):
        block = indices[start : start + _BLOCK]
        events = [read_mnist_file(dataset.data[i], dtype=dataset.dtype) for i in block]
        sample, flat, late = _flat_bins(events, [dataset.data[i] for i in block], time_steps)
        histogram = np.bincount(sample * cells + flat, minlength=len(block) * cells)
        np.minimum(histogram, SATURATION, out=histogram)
        counts[start : start + len(block)] = histogram.reshape(len(block), time_steps, *INPUT_SHAPE)
        dropped += late
        total += sum(len(e) for e in events)
    if total and dropped > 0.01 * total:
        warn(f"{dropped / total:.1%} of the N-MNIST events lie after {WINDOW_US} µs and were dropped")
    return counts, source.labels[indices]


def _flat_bins(events: list[np.ndarray], paths: list[str], time_steps: int):
    """(sample in block, flat (step, p, y, x) index, events dropped) for a block of samples."""
    for ev, path in zip(events, paths, strict=True):
        if ev.size and (ev["x"].max() >= SENSOR or ev["y"].max() >= SENSOR):
            raise DatasetCorrupt(f"{path}: an event lies off the 34x34 sensor; the file is damaged")
    lengths = [len(e) for e in events]
    ev = np.concatenate(events)
    sample = np.repeat(np.arange(len(events)), lengths)
    keep = ev["t"] < WINDOW_US
    step = ev["t"][keep] * time_steps // WINDOW_US
    flat = ((step * 2 + ev["p"][keep]) * SENSOR + ev["y"][keep]) * SENSOR + ev["x"][keep]
    return sample[keep], flat, int((~keep).sum())
