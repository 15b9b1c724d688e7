"""The environment a run measured on: machine, devices, package versions, git commit, command."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "spikebench", "jax", "jaxlib", "dm-haiku", "optax", "torch", "snntorch", "norse",
    "numpy", "nir", "nirtorch", "tonic",
)  # fmt: skip
REPO = Path(__file__).resolve().parent.parent
TIMING_VARIABLES = (
    "XLA_FLAGS", "JAX_ENABLE_X64", "JAX_DEFAULT_MATMUL_PRECISION", "GLIBC_TUNABLES",
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "CUDA_VISIBLE_DEVICES",
    "NVIDIA_TF32_OVERRIDE", "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE",
)  # fmt: skip
"""Environment variables that change what a worker computes with or how fast (the workers inherit
the runner's environment): a run records those that are set, so that two runs' rows are never
compared without seeing that, e.g., one ran with huge pages (``GLIBC_TUNABLES``) or XLA flags."""
HUGEPAGE_MODE = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def _run(*command: str, cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, cwd=cwd)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def git_commit() -> str:
    """The checkout's commit, with ``-dirty`` when tracked files differ; ``""`` outside git."""
    commit = _run("git", "rev-parse", "HEAD", cwd=REPO)
    if commit and _run("git", "status", "--porcelain", "--untracked-files=no", cwd=REPO):
        commit += "-dirty"
    return commit


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def gpus() -> list[str]:
    """``name, driver, memory`` of each NVIDIA GPU, from nvidia-smi (empty when none)."""
    if not shutil.which("nvidia-smi"):
        return []
    query = "--query-gpu=name,driver_version,memory.total"
    return [line for line in _run("nvidia-smi", query, "--format=csv,noheader").splitlines() if line]


def best_device() -> str:
    """The fastest device present: a JAX accelerator, else an NVIDIA GPU, else the CPU.

    Probed in a child process so that this process never initialises an accelerator.
    """
    probe = "import jax; print(' '.join(sorted({d.platform for d in jax.devices()})))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    platforms = done.stdout.split()
    if "gpu" in platforms or "cuda" in platforms or gpus():
        return "gpu"
    return "tpu" if "tpu" in platforms else "cpu"


def timing_variables(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The ``TIMING_VARIABLES`` set in ``environ`` (default this process's), with their values."""
    environ = os.environ if environ is None else environ
    return {name: environ[name] for name in TIMING_VARIABLES if name in environ}


def hugepage_mode(path: Path = HUGEPAGE_MODE) -> str:
    """The kernel's transparent huge page mode (``always``, ``madvise`` or ``never``: the bracketed
    word of ``path``); ``""`` where the kernel does not say (not Linux)."""
    try:
        text = path.read_text()
    except OSError:
        return ""
    start, end = text.find("["), text.find("]")
    return text[start + 1 : end] if 0 <= start < end else ""


def versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    found = {}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def capture(argv: list[str] | None = None) -> dict:
    """Everything about this machine and checkout that a result depends on."""
    return {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(argv if argv is not None else sys.argv),
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpus": gpus(),
        "versions": versions(),
        "timing_variables": timing_variables(),
        "transparent_hugepage": hugepage_mode(),
    }
