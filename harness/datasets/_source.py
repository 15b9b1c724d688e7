"""A real dataset split found on disk: its files (with sizes and mtimes) and its labels."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class FileStamp:
    """One source file as the cache sees it: a change of size or mtime makes the cache stale."""

    path: str  # relative to the dataset root, "/"-separated
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path, root: Path, stat: os.stat_result | None = None) -> FileStamp:
        st = path.stat() if stat is None else stat
        return cls(path.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class RealSource:
    """A split of a real dataset, checked and listed but not yet read.

    Attributes:
        task: ``"shd"`` or ``"nmnist"``.
        split: ``"train"`` or ``"test"``.
        root: the folder tonic uses, e.g. ``<data_dir>/SHD``.
        files: every file the samples are read from, in sample order where there is one per sample.
        labels: int32 ``[N]``, every sample of the split in tonic's order.
    """

    task: str
    split: str
    root: Path
    files: tuple[FileStamp, ...]
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def fingerprint(self) -> str:
        """A hash of every source file's path, size and mtime."""
        listing = [[f.path, f.size, f.mtime_ns] for f in self.files]
        return hashlib.sha256(json.dumps(listing).encode()).hexdigest()
