"""Builders of tiny SHD and N-MNIST folders in the real on-disk formats (for test_datasets.py),
and of synthetic twins for any test.

Layouts as tonic 1.7.0 reads them (docs/datasets.md):

- ``<data_dir>/SHD/shd_<split>.h5`` with ``spikes/times`` (vlen float16 seconds),
  ``spikes/units`` (vlen uint16), ``labels``, ``extra/keys``, ``extra/speaker``, and
  ``shd_<split>.h5.zip`` beside it (only its existence matters to tonic);
- ``<data_dir>/NMNIST/{Train,Test}/<digit>/<k>.bin`` of 5-byte events, and ``train.zip`` /
  ``test.zip`` beside them.

Samples are separable: most SHD spikes of class k lie in a 35-unit band, N-MNIST events cluster
around a digit-specific centre.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import h5py
import numpy as np

from frameworks.adapter import SpikeData
from harness.datasets import shipped_statistics, twin

SHD_UNITS = 700
SHD_CLASSES = 20
NMNIST_FOLDERS = {"train": "Train", "test": "Test"}


def synthetic_shd(**options) -> SpikeData:
    """A twin of SHD from the shipped statistics; ``options`` as ``harness.datasets.twin``."""
    return twin(shipped_statistics("shd"), **options)


def synthetic_nmnist(**options) -> SpikeData:
    """A twin of N-MNIST from the shipped statistics; ``options`` as ``harness.datasets.twin``."""
    return twin(shipped_statistics("nmnist"), **options)


def _touch_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("README.txt", "test fixture: only the existence of this archive matters")


def shd_sample(rng: np.random.Generator, label: int, n_spikes: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted float16 times in [0, 1.2) s and uint16 units, ~80 % in the label's band."""
    times = np.sort(rng.uniform(0.0, 1.2, n_spikes)).astype(np.float16)
    in_band = rng.random(n_spikes) < 0.8
    units = np.where(
        in_band, label * 33 + rng.integers(0, 35, n_spikes), rng.integers(0, SHD_UNITS, n_spikes)
    )
    return times, units.astype(np.uint16)


def write_shd(
    data_dir: Path,
    split: str = "train",
    *,
    n: int = 40,
    seed: int = 0,
    spikes: tuple[int, int] = (40, 120),
    samples: list[tuple[np.ndarray, np.ndarray]] | None = None,
    labels: np.ndarray | None = None,
    omit: tuple[str, ...] = (),
) -> Path:
    """Writes ``<data_dir>/SHD/shd_<split>.h5`` and its zip; returns the .h5 path.

    Args:
        data_dir: the data folder.
        split: ``"train"`` or ``"test"``.
        n: samples (labels cycle through 0..19).
        seed: the generator's seed.
        spikes: (min, max) spikes per generated sample.
        samples: (times in s, units) replacing the first generated samples.
        labels: replaces the labels (any values, to test validation).
        omit: HDF5 paths to leave out, e.g. ``("labels",)``.
    """
    rng = np.random.default_rng(seed)
    label_values = np.arange(n) % SHD_CLASSES if labels is None else np.asarray(labels)
    data = [shd_sample(rng, int(k) % SHD_CLASSES, int(rng.integers(*spikes))) for k in label_values]
    for i, (times, units) in enumerate(samples or []):
        data[i] = (np.asarray(times, np.float16), np.asarray(units, np.uint16))
    root = Path(data_dir) / "SHD"
    root.mkdir(parents=True, exist_ok=True)
    path = root / f"shd_{split}.h5"
    with h5py.File(path, "w") as file:
        columns = {
            "spikes/times": (h5py.vlen_dtype(np.float16), [t for t, _ in data]),
            "spikes/units": (h5py.vlen_dtype(np.uint16), [u for _, u in data]),
        }
        for name, (dtype, values) in columns.items():
            if name not in omit:
                dataset = file.create_dataset(name, (len(values),), dtype=dtype)
                dataset[...] = np.array([*values, None], dtype=object)[:-1]
        fields = {
            "labels": label_values.astype(np.int64),
            "extra/keys": np.array([f"digit-{k}".encode() for k in range(SHD_CLASSES)]),
            "extra/speaker": rng.integers(0, 12, len(label_values)),
        }
        for name, value in fields.items():
            if name not in omit:
                file.create_dataset(name, data=value)
        if "extra/meta_info" not in omit:
            file.create_dataset("extra/meta_info/age", data=np.full(12, 30))
    _touch_zip(root / f"shd_{split}.h5.zip")
    return path


def encode_nmnist(x, y, p, t_us) -> bytes:
    """5-byte N-MNIST records: x, y, p << 7 | t[22:16], t[15:8], t[7:0]."""
    x, y, p, t = (np.asarray(v, np.int64) for v in (x, y, p, t_us))
    records = np.stack([x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF], axis=1)
    return records.astype(np.uint8).tobytes()


def nmnist_events(rng: np.random.Generator, digit: int, n_events: int = 300):
    """(x, y, p, t_us) around a digit-specific centre, sorted t in [0, 306000) µs."""
    centre = np.array([8 + 2 * digit, 25 - 2 * digit])
    xy = np.clip(np.rint(centre + rng.normal(0, 3, (n_events, 2))), 0, 33).astype(np.int64)
    t = np.sort(rng.integers(0, 306_000, n_events))
    return xy[:, 0], xy[:, 1], rng.integers(0, 2, n_events), t


def write_nmnist(
    data_dir: Path,
    split: str = "train",
    *,
    per_digit: int = 2,
    seed: int = 0,
    n_events: int = 300,
    files: dict[tuple[int, int], bytes] | None = None,
) -> Path:
    """Writes ``<data_dir>/NMNIST/<Train|Test>/<digit>/<k:05d>.bin`` files and the split's zip.

    Args:
        data_dir: the data folder.
        split: ``"train"`` or ``"test"``.
        per_digit: files per digit.
        seed: the generator's seed.
        n_events: events per generated file.
        files: ``{(digit, k): raw bytes}`` replacing generated files (or adding some).

    Returns:
        The split folder.
    """
    rng = np.random.default_rng(seed)
    root = Path(data_dir) / "NMNIST"
    folder = root / NMNIST_FOLDERS[split]
    content = {
        (digit, k): encode_nmnist(*nmnist_events(rng, digit, n_events))
        for digit in range(10)
        for k in range(per_digit)
    }
    content.update(files or {})
    for (digit, k), raw in content.items():
        (folder / str(digit)).mkdir(parents=True, exist_ok=True)
        (folder / str(digit) / f"{k:05d}.bin").write_bytes(raw)
    _touch_zip(root / f"{split}.zip")
    return folder
