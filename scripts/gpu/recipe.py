"""The GPU recipe: the paper's Table 1, Table 2 and micro-benchmark grids at the paper's sizes, the
TF32 variants apart, and spyx_core's implementations side by side, each in its own results folder
under OUT with its report, and OUT/README.md indexing them. ``scripts/gpu/run.sh`` installs what
a node lacks and starts this; ``SIZE=tiny DEVICE=cpu`` runs the same plan on a CPU, every grid cut
to its first configuration (tests/test_gpu_recipe.py).

Usage: python scripts/gpu/recipe.py OUT

Environment (all optional):
  SIZE             paper (default): every configuration, the paper's training-set sizes (SHD: the
                   whole 8156; N-MNIST: the paper's half, 30000), totals projected to its 100 and 20
                   epochs; tiny: each grid's first configuration on one batch of samples.
  DEVICE           gpu (default) or cpu.
  FRAMEWORKS       the grids' frameworks (default ``GRID_FRAMEWORKS``); those that do not load
                   here (an absent extra, a variant not registered, e.g. spyx@paper) are left out
                   with the reason in OUT/README.md.
  TF32_FRAMEWORKS  the TF32 folder's frameworks (default ``TF32_FRAMEWORKS``).
  VARIANTS         spyx_core's implementations side by side (default ``VARIANTS``).
  EPOCHS, SAMPLES, TIMEOUT   override the size's epochs per cell (the first the warm-up), training
                   samples per cell (all grids) and seconds per cell.
  DATA, DATA_DIR   --data (default auto: real files when present, else the synthetic twin) and
                   --data-dir. With real data every cell also measures its test accuracy.
  LIMITS           0: skip measuring the device's peak and dense floors (``--no-limits``).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import frameworks
from harness import cli
from harness.grids import NMNIST_HALF_TRAIN_SAMPLES
from harness.report import write_report

GRID_FRAMEWORKS = (
    "spyx_core",
    "snntorch",
    "norse",
    "torch_plain",
    "spikingjelly",
    "spyx",
    "spyx@paper",
)
"""The exact frameworks, then the published libraries as they are (inexact rows say how), and
Spyx written as the paper's notebooks write it (``spyx@paper``)."""
TF32_FRAMEWORKS = ("spyx_core", "spyx_core@fused-tf32")
"""TF32 matmuls are not the canonical float32 model: they get their own folder, beside the exact
reference of the same configuration."""
VARIANTS = (
    "spyx_core",
    "spyx_core@layerwise",
    "spyx_core@fused-remat32",
    "spyx_core@scan",
    "spyx_core@scan-unroll32",
)
"""spyx_core's implementations against Spyx's step-by-step scan (the paper's unroll: 32)."""


@dataclass(frozen=True)
class Size:
    """How much of each grid runs: samples per grid (None: the whole set), epochs per cell, seconds
    per cell, configurations per grid (None: all), and the variants' SHD shapes."""

    samples: Mapping[str, int | None]
    epochs: int
    timeout: float
    first: int | None
    variant_hidden: tuple[int, ...]
    variant_shape: Mapping[str, int | None]  # batch_size, time_steps, samples


SIZES = {
    "paper": Size(
        samples={"table1": None, "table2": NMNIST_HALF_TRAIN_SAMPLES},
        epochs=3,
        timeout=3600.0,
        first=None,
        variant_hidden=(128, 512),
        variant_shape={"batch_size": 256, "time_steps": 256, "samples": None},
    ),
    # One batch of each grid's first configuration (table1: B=64; table2: B=32).
    "tiny": Size(
        samples={"table1": 64, "table2": 32},
        epochs=2,
        timeout=300.0,
        first=1,
        variant_hidden=(16,),
        variant_shape={"batch_size": 8, "time_steps": 16, "samples": 8},
    ),
}


@dataclass(frozen=True)
class Settings:
    """What the environment chose (module docstring)."""

    size: Size
    device: str = "gpu"
    frameworks: tuple[str, ...] = GRID_FRAMEWORKS
    tf32: tuple[str, ...] = TF32_FRAMEWORKS
    variants: tuple[str, ...] = VARIANTS
    data: str = "auto"
    data_dir: str | None = None
    limits: bool = True  # LIMITS=0: no FLOP peak / dense floor measurement (--no-limits)

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Settings:
        size = SIZES[env.get("SIZE", "paper")]
        if "SAMPLES" in env:
            samples = int(env["SAMPLES"])
            size = dataclasses.replace(size, samples={"table1": samples, "table2": samples})
        if "EPOCHS" in env:
            size = dataclasses.replace(size, epochs=int(env["EPOCHS"]))
        if "TIMEOUT" in env:
            size = dataclasses.replace(size, timeout=float(env["TIMEOUT"]))
        lists = {"frameworks": "FRAMEWORKS", "tf32": "TF32_FRAMEWORKS", "variants": "VARIANTS"}
        chosen = {field: _names(env[name]) for field, name in lists.items() if name in env}
        return cls(
            size=size,
            device=env.get("DEVICE", "gpu"),
            data=env.get("DATA", "auto"),
            data_dir=env.get("DATA_DIR") or None,
            limits=env.get("LIMITS", "1") != "0",
            **chosen,
        )


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


def usable(names: tuple[str, ...]) -> tuple[tuple[str, ...], dict[str, str]]:
    """The frameworks of ``names`` that load here, and why each other one does not."""
    kept, left_out = [], {}
    for name in names:
        try:
            frameworks.load(name)
        except (frameworks.UnknownFramework, frameworks.FrameworkUnavailable) as error:
            left_out[name] = str(error)
        else:
            kept.append(name)
    return tuple(kept), left_out


@dataclass(frozen=True)
class Step:
    """One harness command (``argv`` of ``spikebench``) writing into ``folder`` under OUT."""

    folder: str
    what: str
    argv: tuple[str, ...]


def plan(settings: Settings, out: Path) -> list[Step]:
    """Every step of the recipe, in order: Table 1, Table 2, the micro-benchmark, TF32, variants."""
    size = settings.size
    steps = [
        Step(grid, what, _reproduce(grid, settings.frameworks, settings, out / grid))
        for grid, what in (
            ("table1", "Table 1: SHD, H x B, 100-epoch protocol projected"),
            ("table2", "Table 2: N-MNIST conv net, m x B, 20-epoch protocol projected"),
            ("micro", "Open Neuromorphic micro-benchmark, n in {512, 4096, 16384}"),
        )
    ]
    tf32 = "Tables 1 and 2 with TF32 matmuls (not the canonical float32), beside the exact reference"
    for grid in ("table1", "table2"):
        steps.append(Step("tf32", tf32, _reproduce(grid, settings.tf32, settings, out / "tf32")))
    shape = size.variant_shape
    for hidden in size.variant_hidden:
        argv = ("run", "--task", "shd", "--data", "synthetic", "--hidden", str(hidden),
                "--batch-size", str(shape["batch_size"]), "--time-steps", str(shape["time_steps"]),
                *_samples(shape["samples"]), *_common(settings, settings.variants),
                "--out", str(out / "variants"))  # fmt: skip
        steps.append(Step("variants", "spyx_core's implementations, SHD paper shapes", argv))
    return steps


def _reproduce(grid: str, names: tuple[str, ...], settings: Settings, folder: Path) -> tuple[str, ...]:
    size = settings.size
    data = ()
    if grid != "micro":
        data = (
            "--data",
            settings.data,
            *(("--data-dir", settings.data_dir) if settings.data_dir else ()),
        )
    first = ("--first", str(size.first)) if size.first else ()
    samples = _samples(size.samples.get(grid))
    return ("reproduce", grid, *_common(settings, names), *samples, *data, *first, "--out", str(folder))


def _samples(n: int | None) -> tuple[str, ...]:
    return () if n is None else ("--samples", str(n))


def _common(settings: Settings, names: tuple[str, ...]) -> tuple[str, ...]:
    size = settings.size
    limits = () if settings.limits else ("--no-limits",)
    return ("--frameworks", ",".join(names), "--device", settings.device,
            "--epochs", str(size.epochs), "--timeout", f"{size.timeout:g}", *limits)  # fmt: skip


def run_step(step: Step) -> int:
    """Runs one step in this process (each cell still in its own worker); a step that crashes is
    its exit status, so that the recipe goes on unattended."""
    print(f"recipe: {step.folder}: spikebench {' '.join(step.argv)}", file=sys.stderr, flush=True)
    try:
        return cli.main(list(step.argv))
    except SystemExit as error:  # argparse's usage errors
        return error.code if isinstance(error.code, int) else 2
    except Exception:  # any other failure is this step's, not the recipe's
        traceback.print_exc()
        return 1


def index(out: Path, steps: list[Step], codes: list[int], left_out: dict[str, str]) -> Path:
    """OUT/README.md: each folder, what it holds, its steps' exit status, its report; and every
    framework left out, with why."""
    lines = [
        "# spikebench GPU recipe",
        "",
        "| folder | what | exit status | report |",
        "|---|---|---|---|",
    ]
    for folder in dict.fromkeys(step.folder for step in steps):
        mine = [(s, c) for s, c in zip(steps, codes, strict=True) if s.folder == folder]
        status = ", ".join(str(code) for _, code in mine)
        report = (
            f"[{folder}/report.md]({folder}/report.md)" if (out / folder / "report.md").exists() else ""
        )
        lines.append(f"| {folder} | {mine[0][0].what} | {status} | {report} |")
    lines += ["", "Exit status 1: some cell failed (its row says why); 2: the command was refused."]
    if left_out:
        lines += ["", "Frameworks left out (they do not load here):", ""]
        lines += [f"- `{name}`: {reason}" for name, reason in left_out.items()]
    path = out / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None, env: Mapping[str, str] = os.environ) -> int:
    """Runs the recipe into OUT (``argv``: ``[OUT]``); 1 when any step did not succeed."""
    (out,) = argv if argv is not None else sys.argv[1:]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_environment(env)
    left_out: dict[str, str] = {}
    kept = {}
    for field in ("frameworks", "tf32", "variants"):
        kept[field], missing = usable(getattr(settings, field))
        left_out |= missing
    settings = dataclasses.replace(settings, **kept)
    steps = [step for step in plan(settings, out) if _has_frameworks(step)]
    codes = [run_step(step) for step in steps]
    if (out / "variants" / "results.json").exists():
        write_report(out / "variants")
    print(f"recipe: index {index(out, steps, codes, left_out)}", file=sys.stderr)
    return 1 if any(codes) else 0


def _has_frameworks(step: Step) -> bool:
    return bool(step.argv[step.argv.index("--frameworks") + 1])


if __name__ == "__main__":
    sys.exit(main())
