"""``torch_compile``: the former name of ``torch_plain@compile``, kept so that old commands and
results still run.

The compile machinery lives in ``frameworks/torch_compiled.py`` and serves every torch adapter
through its ``@compile`` variants (``frameworks.torch_base.COMPILE_VARIANTS``); this is
``torch_plain`` with the ``compile`` variant's options.
"""

from __future__ import annotations

from typing import Any, ClassVar

from frameworks.adapters.torch_plain_adapter import TorchPlainAdapter
from frameworks.torch_base import COMPILE_VARIANTS


class TorchCompileAdapter(TorchPlainAdapter):
    """``torch_plain@compile`` under its former name (module docstring)."""

    name = "torch_compile"
    VARIANTS: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self) -> None:
        super().__init__(**COMPILE_VARIANTS["compile"])
