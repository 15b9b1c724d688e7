"""Datasets for the harness: every adapter trains on the same ``SpikeData`` from here.

``load("shd" | "nmnist", split=..., source="auto" | "real" | "synthetic")`` reads the real files
through tonic with the Spyx paper's preprocessing (cached under ``<data_dir>/.spikebench-cache``)
or draws a synthetic twin with the same shapes, classes and spike statistics. Nothing is ever
downloaded: missing files raise ``DatasetMissing`` with instructions (or, with ``"auto"``, fall
back to the twin with a warning).
"""

from harness.datasets._arguments import add_data_arguments as add_data_arguments
from harness.datasets._fit import fit_statistics as fit_statistics
from harness.datasets._load import SOURCES as SOURCES
from harness.datasets._load import SPLITS as SPLITS
from harness.datasets._load import load as load
from harness.datasets._load import resolve_source as resolve_source
from harness.datasets._paths import default_data_dir as default_data_dir
from harness.datasets._real import DataRequestError as DataRequestError
from harness.datasets._real import DatasetCorrupt as DatasetCorrupt
from harness.datasets._real import DatasetMissing as DatasetMissing
from harness.datasets._tasks import TASKS as TASKS
from harness.datasets._warn import warn_stderr as warn_stderr
from harness.datasets.synthetic import dataset_statistics as dataset_statistics
from harness.datasets.synthetic import read_statistics as read_statistics
from harness.datasets.synthetic import shipped_statistics as shipped_statistics
from harness.datasets.synthetic import twin as twin
from harness.datasets.synthetic import write_statistics as write_statistics

__all__ = [
    "SOURCES",
    "SPLITS",
    "TASKS",
    "DataRequestError",
    "DatasetCorrupt",
    "DatasetMissing",
    "add_data_arguments",
    "dataset_statistics",
    "default_data_dir",
    "fit_statistics",
    "load",
    "read_statistics",
    "resolve_source",
    "shipped_statistics",
    "twin",
    "warn_stderr",
    "write_statistics",
]
