"""Where datasets live on disk: the data folder and the cache folder inside it."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "SPIKEBENCH_DATA"
CACHE_DIRNAME = ".spikebench-cache"


def default_data_dir() -> Path:
    """The data folder used when none is given.

    Returns:
        ``$SPIKEBENCH_DATA`` if set, else ``$XDG_CACHE_HOME/spikebench/data``, else
        ``~/.cache/spikebench/data``. The folder is not created.
    """
    explicit = os.environ.get(DATA_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "spikebench" / "data"


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """``data_dir`` as an absolute path, or ``default_data_dir()`` when it is None."""
    return (default_data_dir() if data_dir is None else Path(data_dir).expanduser()).absolute()


def cache_dir(data_dir: Path) -> Path:
    """The preprocessing cache folder inside ``data_dir`` (not created here)."""
    return data_dir / CACHE_DIRNAME
