"""Trained weights on disk: one ``.npz`` holding the canonical parameters and the model spec.

The file is framework-neutral (canonical names and layouts, ``frameworks.spec``), so weights
trained in one framework load into any other and into the NIR export.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from frameworks.spec import ModelSpec, init_weights

_SPEC_KEY = "__spec__"
FORMAT = "spikebench-weights-1"


def save_weights(path: str | os.PathLike, spec: ModelSpec, weights: dict[str, np.ndarray]) -> None:
    """Writes ``weights`` and ``spec`` to ``path`` atomically (``.npz``)."""
    path = Path(path)
    header = json.dumps({"format": FORMAT, "spec": spec.to_dict()})
    arrays = {name: np.asarray(value, np.float32) for name, value in weights.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **{_SPEC_KEY: np.array(header)}, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_weights(path: str | os.PathLike) -> tuple[ModelSpec, dict[str, np.ndarray]]:
    """Reads a file written by ``save_weights``.

    Raises:
        ValueError: not a spikebench weights file, or its weights do not fit its spec.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(str(archive[_SPEC_KEY]))
            weights = {k: archive[k] for k in archive.files if k != _SPEC_KEY}
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f"{path} is not a spikebench weights file ({error})") from None
    if header.get("format") != FORMAT:
        raise ValueError(f"{path} has format {header.get('format')!r}, expected {FORMAT}")
    spec = ModelSpec.from_dict(header["spec"])

    expected = {k: v.shape for k, v in init_weights(spec, seed=0).items()}  # names and shapes
    found = {k: v.shape for k, v in weights.items()}
    if expected != found:
        raise ValueError(f"{path}: weights {found} do not match the spec's {expected}")
    return spec, weights
