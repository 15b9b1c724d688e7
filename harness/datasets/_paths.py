"""Kept only for ``_arguments.py``, whose flags move to ``harness/commands/_common.py``: the data
folder's names live in ``_load.py`` (``harness.datasets.DATA_ENV``). Delete this file with it."""

from harness.datasets._load import DATA_ENV as DATA_ENV

__all__ = ["DATA_ENV"]
