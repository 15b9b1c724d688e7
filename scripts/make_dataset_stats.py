"""Builds the statistics shipped with the package, ``harness/datasets/stats/{shd,nmnist}.json``.

No real data was available when they were made, so they combine published figures (split
sizes, classes, sensor sizes, durations) with an assumed, documented rate profile; their
``source`` says so. When the real data is under the data folder, twins use statistics fitted
from it instead (``harness.datasets.fit_statistics``). See ``docs/datasets.md``. Regenerate the
files, from the repository root with the project importable (installed, or ``PYTHONPATH=.``)::

    python scripts/make_dataset_stats.py

They are written into the ``harness.datasets`` package that is imported, i.e. beside the code
that reads them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.datasets import nmnist, shd
from harness.datasets.synthetic import FORMAT, PUBLISHED_SOURCE, write_statistics

STATS_DIR = Path(shd.__file__).with_name("stats")  # package data of the imported harness.datasets

SHD_DENSITY = 0.05  # assumed mean spike probability of the binarised 256 x 128 raster
NMNIST_EVENTS = 4200  # assumed mean events per N-MNIST sample (three saccades)
MNIST_CLASS_COUNTS = {  # N-MNIST converts every MNIST image, so it has MNIST's class counts
    "train": [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    "test": [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _uniform_counts(n: int, classes: int) -> list[int]:
    return [n // classes + (k < n % classes) for k in range(classes)]


def _scaled(profile: np.ndarray, mean: float) -> np.ndarray:
    return profile * (mean / profile.mean())


def shd_statistics() -> dict:
    """SHD defaults: published sizes, assumed speech-like rate profile."""
    steps, channels = shd.DEFAULT_TIME_STEPS, shd.CHANNELS
    seconds = (np.arange(steps) + 0.5) / steps
    envelope = 0.05 + _sigmoid((seconds - 0.08) / 0.02) * _sigmoid((0.70 - seconds) / 0.07)
    place = (np.arange(channels) + 0.5) / channels
    spectrum = 0.2 + np.exp(-0.5 * ((place - 0.35) / 0.22) ** 2)
    return {
        "format": FORMAT,
        "task": "shd",
        "source": PUBLISHED_SOURCE,
        "published": "SHD (Cramer et al. 2020): 8156 train / 2264 test samples, 20 classes (digits "
        "0-9 in English and German), 700 cochlea channels (-> 128 here), ~1 s recordings",
        "profile": "assumed: time_rate = 0.05 + sigmoid((t - 80 ms) / 20 ms) * sigmoid((700 ms - t) / "
        "70 ms), channel_rate = 0.2 + gauss(channel / 128; 0.35, 0.22), both scaled to a mean spike "
        f"probability of {SHD_DENSITY}; classes assumed balanced",
        "encoding": shd.ENCODING,
        "time_steps": steps,
        "input_shape": list(shd.INPUT_SHAPE),
        "n_classes": shd.N_CLASSES,
        "splits": {
            split: {"n_samples": n, "samples_per_class": _uniform_counts(n, shd.N_CLASSES)}
            for split, n in shd.SPLIT_SIZES.items()
        },
        "mean_density": SHD_DENSITY,
        "time_rate": _scaled(envelope, SHD_DENSITY),
        "channel_rate": _scaled(spectrum, SHD_DENSITY),
    }


def nmnist_statistics() -> dict:
    """N-MNIST defaults: published sizes, assumed three-saccade rate profile."""
    steps, side = nmnist.DEFAULT_TIME_STEPS, nmnist.SENSOR
    mean = NMNIST_EVENTS / (steps * int(np.prod(nmnist.INPUT_SHAPE)))
    ms = (np.arange(steps) + 0.5) * nmnist.WINDOW_US / 1000 / steps
    saccade = 0.1 + np.sin(np.pi * (ms % 105) / 105) ** 2  # events follow the sensor's speed
    centre = (side - 1) / 2
    y, x = np.mgrid[:side, :side]
    digit = 0.03 + np.exp(-0.5 * ((x - centre) ** 2 + (y - centre) ** 2) / 7.0**2)
    pixels = np.stack([digit, digit])  # ON and OFF polarities alike
    return {
        "format": FORMAT,
        "task": "nmnist",
        "source": PUBLISHED_SOURCE,
        "published": "N-MNIST (Orchard et al. 2015): 60000 train / 10000 test samples (MNIST's, with "
        "its class counts), 10 classes, 34 x 34 pixels x 2 polarities, three ~105 ms saccades (~300 ms)",
        "profile": "assumed: time_rate = 0.1 + sin^2(pi * (t mod 105 ms) / 105 ms) (three saccades), "
        "channel_rate = 0.03 + a centred Gaussian blob (sd 7 px), same for both polarities, scaled "
        f"to {NMNIST_EVENTS} events per sample over {nmnist.WINDOW_US // 1000} ms",
        "encoding": nmnist.ENCODING,
        "time_steps": steps,
        "input_shape": list(nmnist.INPUT_SHAPE),
        "n_classes": nmnist.N_CLASSES,
        "splits": {
            split: {"n_samples": n, "samples_per_class": MNIST_CLASS_COUNTS[split]}
            for split, n in nmnist.SPLIT_SIZES.items()
        },
        "mean_density": mean,
        "time_rate": _scaled(saccade, mean),
        "channel_rate": _scaled(pixels.ravel(), mean),
    }


PUBLISHED = {"shd": shd_statistics, "nmnist": nmnist_statistics}


def main() -> None:
    """Writes ``stats/<task>.json`` for every task."""
    for task, build in PUBLISHED.items():
        print(write_statistics(build(), STATS_DIR / f"{task}.json"))


if __name__ == "__main__":
    main()
