"""tonic datasets that can never start a download.

A tonic dataset checks its folder in the constructor and, if the check fails, downloads at once;
no argument turns that off (``tonic/dataset.py``). spikebench checks the files itself first (with
messages naming what is missing) and then builds the tonic object with two *instance* attributes
that shadow the class's methods for this one object: ``_check_exists`` reports the result of our
own check, and ``download`` raises. Patching the instance rather than the class keeps other tonic
users in the process unaffected, and not subclassing keeps the class name, which tonic uses as
the folder name (``<save_to>/NMNIST``): a subclass would look in ``<save_to>/OfflineNMNIST``.

Why we bypass tonic's check rather than satisfy it: tonic's N-MNIST check wants >= 10000 ``.bin``
files (so small or partial folders trigger a download) and its zip checks need archives that are
never read after extraction. Our checks look at the files that are actually read.
"""

from __future__ import annotations

from typing import Any, TypeVar

from harness.datasets._real import DatasetMissing

D = TypeVar("D")


def offline_dataset(cls: type[D], missing_message: str, **kwargs: Any) -> D:
    """Constructs the tonic dataset ``cls(**kwargs)`` with its download disabled.

    Args:
        cls: a tonic dataset class, e.g. ``tonic.datasets.SHD``.
        missing_message: the ``DatasetMissing`` message raised should tonic ever try to download.
        **kwargs: the constructor's arguments (``save_to`` is the data folder).

    Returns:
        The dataset, built from the local files only.
    """

    def refuse_download() -> None:
        raise DatasetMissing(missing_message)

    dataset = cls.__new__(cls)
    # The caller has already verified the files tonic reads; see the module docstring.
    dataset._check_exists = lambda: True
    dataset.download = refuse_download
    cls.__init__(dataset, **kwargs)
    return dataset
