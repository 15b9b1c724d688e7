"""Datasets for the harness: every adapter trains on the same ``SpikeData`` from here.

``load("shd" | "nmnist", split=..., source="auto" | "real" | "synthetic")`` reads the real files
through tonic with the Spyx paper's preprocessing (cached under ``<data_dir>/.spikebench-cache``)
or draws a synthetic twin with the same shapes, classes and spike statistics. Nothing is ever
downloaded: missing files raise ``DatasetMissing`` with instructions (or, with ``"auto"``, fall
back to the twin with a warning). ``twin`` draws a twin from a statistics record directly
(``shipped_statistics`` or ``fit_statistics``; more in ``harness.datasets.synthetic``).
Layout, file formats, cache and twins: ``docs/datasets.md``.
"""

from harness.datasets._load import DATA_ENV as DATA_ENV
from harness.datasets._load import SOURCES as SOURCES
from harness.datasets._load import SPLITS as SPLITS
from harness.datasets._load import default_data_dir as default_data_dir
from harness.datasets._load import fit_statistics as fit_statistics
from harness.datasets._load import load as load
from harness.datasets._load import resolve_source as resolve_source
from harness.datasets._real import DataRequestError as DataRequestError
from harness.datasets._real import DatasetCorrupt as DatasetCorrupt
from harness.datasets._real import DatasetMissing as DatasetMissing
from harness.datasets.synthetic import shipped_statistics as shipped_statistics
from harness.datasets.synthetic import twin as twin

__all__ = [
    "DATA_ENV",
    "SOURCES",
    "SPLITS",
    "DataRequestError",
    "DatasetCorrupt",
    "DatasetMissing",
    "default_data_dir",
    "fit_statistics",
    "load",
    "resolve_source",
    "shipped_statistics",
    "twin",
]
