"""A fake framework adapter, installed into a temporary folder as its own distribution.

Worker processes discover it through the ``spikebench.frameworks`` entry point exactly like a real
third-party adapter: the folder holds ``fakefw.py`` and a ``fakefw-0.1.dist-info`` with
``entry_points.txt``, and goes on ``PYTHONPATH``. Its behaviour per cell is set by the hidden
size: ``CRASH_HIDDEN`` raises, ``HANG_HIDDEN`` sleeps forever, ``SLOW_HIDDEN`` takes a while.
With ``$FAKEFW_LOG`` set, each session and epoch appends a JSON line there (``read_log``): the
event, hidden size, worker pid, its ``CUDA_VISIBLE_DEVICES`` and the time.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

CRASH_HIDDEN, HANG_HIDDEN, SLOW_HIDDEN = 13, 17, 19

MODULE = textwrap.dedent(
    f'''
    """A fake adapter for spikebench's tests."""
    import json
    import os
    import time

    import numpy as np

    from frameworks.adapter import AdapterBase, BackendMemory, EpochResult


    def _log(event, hidden):
        if os.environ.get("FAKEFW_LOG"):
            entry = dict(event=event, hidden=hidden, pid=os.getpid(), time=time.time(),
                         cuda=os.environ.get("CUDA_VISIBLE_DEVICES"))
            with open(os.environ["FAKEFW_LOG"], "a") as log:
                log.write(json.dumps(entry) + "\\n")


    class _Session:
        compile_kind = None

        def __init__(self, hidden, steps):
            self.hidden, self.steps = hidden, steps
            _log("start", hidden)

        def compile(self):
            pass

        def train_epoch(self, epoch):
            _log("epoch", self.hidden)
            if self.hidden == {CRASH_HIDDEN}:
                raise RuntimeError("fake framework crashed on purpose")
            if self.hidden == {HANG_HIDDEN}:
                time.sleep(3600)
            if self.hidden == {SLOW_HIDDEN}:
                time.sleep(0.5)
            return epoch

        def synchronize(self):
            pass

        def fetch(self, handle):
            return EpochResult(np.full(self.steps, 2.0 + handle), 0.5)

        def peak_memory(self):
            return BackendMemory()

        def weights(self):
            return {{}}

        def evaluate(self, data):
            return 2.0, 0.5


    class FakeAdapter(AdapterBase):
        name = "fakefw"
        trains_beta = True

        def versions(self):
            return {{"fakefw": "0.1"}}

        def device_name(self, device):
            return "fake " + device

        def session(self, spec, weights, data, *, device, batch_size, seed):
            return _Session(spec.layers[1].size, len(data) // batch_size)
    '''
)


def install(folder: Path) -> Path:
    """Writes the fake distribution into ``folder`` and returns it (put it on PYTHONPATH)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fakefw.py").write_text(MODULE)
    info = folder / "fakefw-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakefw\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[spikebench.frameworks]\nfakefw = fakefw:FakeAdapter\n")
    return folder


def read_log(path: Path) -> list[dict]:
    """The entries the fake adapter appended to ``path`` ($FAKEFW_LOG), in order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
