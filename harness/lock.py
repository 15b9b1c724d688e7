"""The lock on a results folder: one spikebench run writes into a folder at a time.

The lock is a file, ``DIR/.spikebench.lock``, created with ``O_CREAT | O_EXCL`` (atomic, also on
shared file systems) and holding its owner: pid, process start time, host, command. A second run
into the folder refuses with a message naming the owner, or with ``wait`` waits until it is
gone. A lock whose owner is dead (same host, no process with that pid and start time) is stale and
taken over with a note; one from another host cannot be checked and is reported, never broken.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from harness.errors import SpikebenchError

LOCK_NAME = ".spikebench.lock"
WAIT_POLL_S = 1.0


class FolderBusy(SpikebenchError):
    """Another spikebench run holds the results folder."""


def process_start(pid: int) -> str:
    """The start time of process ``pid`` in clock ticks since boot (Linux), "" where unknown.

    Tells a live owner from a new process that reused a dead owner's pid.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def is_alive(pid: int, start: str) -> bool:
    """Whether the process ``pid`` that started at ``start`` still runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        pass
    return not start or process_start(pid) in ("", start)


def owner_record() -> dict[str, Any]:
    """This process as a lock's (or a claim's) owner."""
    return {
        "pid": os.getpid(),
        "start": process_start(os.getpid()),
        "host": socket.gethostname(),
        "command": " ".join(sys.argv),
        "since": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def owner_alive(owner: dict[str, Any]) -> bool:
    """Whether ``owner`` still runs; owners on other hosts count as alive (cannot be checked)."""
    if owner.get("host") != socket.gethostname():
        return True
    return is_alive(int(owner.get("pid", 0)), str(owner.get("start", "")))


class FolderLock:
    """``with FolderLock(folder):`` holds ``folder`` for this run (``FolderBusy`` if taken)."""

    def __init__(self, folder: Path, *, wait: bool = False, poll_s: float = WAIT_POLL_S) -> None:
        self.path = Path(folder) / LOCK_NAME
        self.wait, self.poll_s = wait, poll_s

    def __enter__(self) -> FolderLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        announced = False
        while not self._try_create():
            owner = self._owner()
            if owner is not None and not owner_alive(owner):
                print(f"spikebench: removing the stale lock of pid {owner.get('pid')}", file=sys.stderr)
                self.path.unlink(missing_ok=True)
                continue
            if not self.wait:
                raise FolderBusy(self._busy_message(owner))
            if not announced:
                print(f"spikebench: {self._busy_message(owner, waiting=True)}", file=sys.stderr)
                announced = True
            time.sleep(self.poll_s)
        return self

    def __exit__(self, *exc: object) -> None:
        owner = self._owner()
        if owner is not None and owner.get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)

    def _try_create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as handle:
            json.dump(owner_record(), handle)
        return True

    def _owner(self) -> dict[str, Any] | None:
        """The lock's owner; None while it is being written or just removed."""
        try:
            return json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def _busy_message(self, owner: dict[str, Any] | None, *, waiting: bool = False) -> str:
        folder = self.path.parent
        who = "another spikebench run"
        if owner:
            who += f" (pid {owner.get('pid')} on {owner.get('host')} since {owner.get('since')})"
        if waiting:
            return f"{folder} is in use by {who}; waiting for it to finish"
        return (
            f"{folder} is in use by {who}: wait for it (--wait), or choose another --out; "
            f"if that run is gone, delete {self.path}"
        )
