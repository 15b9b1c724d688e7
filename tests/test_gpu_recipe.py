"""The GPU recipe (scripts/gpu/recipe.py): its plan at the paper's sizes, and the same plan run on
the CPU at SIZE=tiny, where it must write rows, reports and the index a GPU run would."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from harness.results import read_results

RECIPE = Path(__file__).parent.parent / "scripts" / "gpu" / "recipe.py"


@pytest.fixture(scope="module")
def recipe():
    """The script as a module (registered while loading: its dataclasses look their module up)."""
    spec = importlib.util.spec_from_file_location("gpu_recipe", RECIPE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def _options(argv: tuple[str, ...]) -> dict[str, str]:
    """``--flag value`` pairs of a step's argv (the subcommand and grid dropped)."""
    flags = [i for i, a in enumerate(argv) if a.startswith("--")]
    return {argv[i]: argv[i + 1] for i in flags}


def test_the_paper_plan_runs_every_configuration_at_the_papers_sizes(recipe):
    settings = recipe.Settings.from_environment({})
    steps = recipe.plan(settings, Path("/out"))
    grids = {(s.folder, s.argv[1]): _options(s.argv) for s in steps if s.argv[0] == "reproduce"}
    assert set(grids) == {("table1", "table1"), ("table2", "table2"), ("micro", "micro"),
                          ("tf32", "table1"), ("tf32", "table2")}  # fmt: skip
    table1, table2 = grids["table1", "table1"], grids["table2", "table2"]
    assert "--samples" not in table1 and table2["--samples"] == "30000"  # SHD whole, N-MNIST half
    assert not any("--first" in options for options in grids.values())
    assert (table1["--device"], table1["--epochs"], table1["--data"]) == ("gpu", "3", "auto")
    assert "spyx@paper" in table1["--frameworks"].split(",")
    assert grids["tf32", "table2"]["--frameworks"] == "spyx_core,spyx_core@fused-tf32"
    assert grids["tf32", "table1"]["--out"] == "/out/tf32"
    variants = [_options(s.argv) for s in steps if s.folder == "variants"]
    assert [(v["--hidden"], v["--batch-size"], v["--time-steps"]) for v in variants] == [
        ("128", "256", "256"), ("512", "256", "256")
    ]  # fmt: skip


def test_absent_frameworks_and_variants_are_left_out_with_the_reason(recipe):
    kept, left_out = recipe.usable(("spyx_core", "spyx_core@nosuch", "nosuch"))
    assert kept == ("spyx_core",)
    assert "no variant 'nosuch'" in left_out["spyx_core@nosuch"]
    assert "unknown framework 'nosuch'" in left_out["nosuch"]


@pytest.mark.filterwarnings("ignore:No artists with labels found:UserWarning")  # micro: all skipped
def test_the_tiny_recipe_on_the_cpu_writes_rows_reports_and_the_index(recipe, tmp_path, fake_framework):
    """The steps at SIZE=tiny with the fake adapter (fast workers), but TF32's (no frameworks: left
    out; it is the grids' command on another folder, which the paper plan's test checks) to keep
    this short; spyx@paper, whose Spyx does not import here (or whose variant is not registered),
    is left out and named in the index."""
    env = {
        "SIZE": "tiny",
        "DEVICE": "cpu",
        "DATA": "synthetic",
        "FRAMEWORKS": f"{fake_framework},spyx@paper",
        "TF32_FRAMEWORKS": "",
        "VARIANTS": fake_framework,
        "LIMITS": "0",
    }  # fmt: skip  (the limits' measurement: tests/test_limits.py)
    code = recipe.main([str(tmp_path)], env)
    rows = {folder: read_results(tmp_path / folder)[0] for folder in ("table1", "table2", "micro")}
    table1, table2, micro = (rows[name] for name in ("table1", "table2", "micro"))
    assert [(r.task, r.hidden, r.batch_size, r.n_samples, r.status) for r in table1] == [
        ("shd", 128, 64, 64, "ok")
    ]
    assert table1[0].projected_epochs == 100 and table1[0].full_steps_per_epoch == 8156 // 64
    assert [(r.task, r.width, r.batch_size, r.n_samples, r.status) for r in table2] == [
        ("nmnist", 1, 32, 32, "ok")
    ]
    assert [(r.hidden, r.status) for r in micro] == [(512, "skipped")]  # the fake has no kernels
    assert code == 0 and not (tmp_path / "tf32").exists()
    (variant,) = read_results(tmp_path / "variants")[0]
    assert (variant.hidden, variant.batch_size, variant.status) == (16, 8, "ok")
    for folder in ("table1", "table2", "micro", "variants"):
        assert (tmp_path / folder / "report.md").exists(), folder
    index = (tmp_path / "README.md").read_text()
    assert "| table1 | Table 1: SHD" in index and "| 0 | [table2/report.md](table2/report.md) |" in index
    assert "- `spyx@paper`: " in index
