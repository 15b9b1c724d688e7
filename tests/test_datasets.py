"""harness.datasets: real SHD / N-MNIST through tonic (tiny files in the real formats), the cache,
the errors, and the synthetic twins. Nothing here may download: tonic's download always raises."""

from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

import numpy as np
import pytest
import tonic
from datasets_fixtures import (
    encode_nmnist,
    nmnist_events,
    synthetic_nmnist,
    synthetic_shd,
    write_nmnist,
    write_shd,
)
from tonic.io import read_mnist_file

import harness.datasets
from frameworks.adapter import SpikeData
from harness.commands._common import add_data_arguments
from harness.datasets import (
    DataRequestError,
    DatasetCorrupt,
    DatasetMissing,
    default_data_dir,
    fit_statistics,
    load,
    shipped_statistics,
    twin,
)
from harness.datasets.synthetic import (
    PUBLISHED_SOURCE,
    dataset_statistics,
    from_json,
    read_statistics,
    to_json,
    write_statistics,
)
from harness.errors import SpikebenchError


def make_dataset_stats():
    """``scripts/make_dataset_stats.py``, the script that builds the shipped statistics."""
    path = Path(__file__).parents[1] / "scripts" / "make_dataset_stats.py"
    spec = importlib.util.spec_from_file_location("make_dataset_stats", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class DownloadAttempted(AssertionError):
    pass


@pytest.fixture(autouse=True)
def no_download(monkeypatch):
    """Any tonic download fails the test loudly instead of reaching the network."""

    def refuse(self):
        raise DownloadAttempted(f"{type(self).__name__} tried to download {getattr(self, 'url', '?')}")

    monkeypatch.setattr(tonic.dataset.Dataset, "download", refuse)


@pytest.fixture
def warnings_seen():
    return []


def cache_files(data_dir, pattern="data-*.npz"):
    return sorted((data_dir / ".spikebench-cache").glob(pattern))


# --- real SHD ---------------------------------------------------------------------------------------


def paper_shd_raster(data_dir, time_steps):
    """The paper's pipeline, sample by sample, through stock tonic: Downsample, raster of
    (t_max + 1, 128), first T rows, min(., 1)."""
    transform = tonic.transforms.Downsample(time_factor=1e-6 * time_steps, spatial_factor=128 / 700)
    dataset = tonic.datasets.SHD(save_to=str(data_dir), train=True, transform=transform)
    rasters = []
    for i in range(len(dataset)):
        events, _ = dataset[i]
        raster = np.zeros((max(int(events["t"].max()) + 1, time_steps), 128), int)
        np.add.at(raster, (events["t"], events["x"]), 1)
        rasters.append(np.minimum(raster[:time_steps], 1))
    return np.stack(rasters)


def test_shd_real_matches_paper_pipeline_and_hand_placed_events(tmp_path, warnings_seen):
    # 0.5 s -> step floor(500000 * 256e-6) = 128; unit 699 -> floor(699 * 128 / 700) = 127;
    # 0.999 s (float16: 0.99902) -> step 255; unit 350 -> 64; 1.05 s lies after the first second.
    hand = ([0.0, 0.5, 0.999, 1.05], [0, 699, 350, 10])
    write_shd(tmp_path, n=40, samples=[hand])
    data = load("shd", source="real", data_dir=tmp_path, warn=warnings_seen.append)
    assert (data.kind, data.name, data.encoding, data.time_steps) == ("real", "shd", "bits", 256)
    assert data.packed.shape == (40, 32, 128) and data.packed.dtype == np.uint8
    np.testing.assert_array_equal(data.labels, np.arange(40) % 20)
    assert data.labels.dtype == np.int32
    spikes = data.unpacked()
    assert np.argwhere(spikes[0]).tolist() == [[0, 0], [128, 127], [255, 64]]
    np.testing.assert_array_equal(spikes, paper_shd_raster(tmp_path, 256))
    assert any("official split has 8156" in w for w in warnings_seen)


def test_shd_time_steps_parameter(tmp_path):
    # 0.7 s (float16: 0.70020) -> step 70. 0.5 s -> step 49, not 50: tonic's Downsample computes
    # int64(500000 * (1e-6 * 100)) = int64(49.999...), and the paper's numbers come from tonic.
    write_shd(tmp_path, n=4, samples=[([0.5, 0.7, 0.999], [699, 3, 0])])
    data = load("shd", source="real", data_dir=tmp_path, time_steps=100, warn=lambda _: None)
    assert data.packed.shape == (4, 13, 128) and data.time_steps == 100
    assert np.argwhere(data.unpacked()[0]).tolist() == [[49, 127], [70, 0], [99, 0]]
    np.testing.assert_array_equal(data.unpacked(), paper_shd_raster(tmp_path, 100))


# --- real N-MNIST -----------------------------------------------------------------------------------


def test_nmnist_real_hand_placed_events_and_counts(tmp_path, warnings_seen):
    # Grid: step = floor(t * 64 / 315000). The overflow record (y = 240) adds 2^13 us to every
    # later event (tonic's reader): 100 -> 8292 us (step 1), 200000 -> 208192 us (step 42), and
    # 315000 is dropped. The 300 events in one cell saturate at 255.
    x, y, p, t = [3, 33, 0, 5, 7], [5, 0, 240, 6, 8], [1, 0, 0, 1, 0], [0, 314_999, 0, 100, 315_000]
    hand = encode_nmnist(x, y, p, t) + encode_nmnist([9] * 300, [9] * 300, [1] * 300, [200_000] * 300)
    write_nmnist(tmp_path, per_digit=2, files={(7, 0): hand})
    data = load("nmnist", source="real", data_dir=tmp_path, warn=warnings_seen.append)
    assert (data.kind, data.name, data.encoding, data.time_steps) == ("real", "nmnist", "counts", 64)
    assert data.packed.shape == (20, 64, 2, 34, 34) and data.packed.dtype == np.uint8
    np.testing.assert_array_equal(data.labels, np.repeat(np.arange(10), 2))
    sample = data.packed[14]  # files sort by digit folder: digit 7, file 00000
    found = {tuple(i): int(sample[tuple(i)]) for i in np.argwhere(sample)}
    assert found == {(0, 1, 5, 3): 1, (63, 0, 0, 33): 1, (1, 1, 6, 5): 1, (42, 1, 9, 9): 255}


def test_nmnist_real_matches_reference_binning(tmp_path):
    folder = write_nmnist(tmp_path, "test", per_digit=1, seed=3)
    data = load(
        "nmnist", split="test", source="real", data_dir=tmp_path, time_steps=16, warn=lambda _: None
    )
    for digit in range(10):
        events = read_mnist_file(
            str(folder / str(digit) / "00000.bin"), dtype=tonic.datasets.NMNIST.dtype
        )
        expected = np.zeros((16, 2, 34, 34), int)
        np.add.at(expected, (events["t"] * 16 // 315_000, events["p"], events["y"], events["x"]), 1)
        np.testing.assert_array_equal(data.packed[digit], np.minimum(expected, 255))
    assert data.packed.sum() == 10 * 300  # all fixture events lie inside the 315 ms window


def test_subsets_are_seeded_nested_and_spread_over_classes(tmp_path):
    write_nmnist(tmp_path, per_digit=4)
    quiet = {"data_dir": tmp_path, "source": "real", "warn": lambda _: None}
    full = load("nmnist", **quiet)
    half = load("nmnist", half_train=True, **quiet)
    small = load("nmnist", n_samples=8, **quiet)
    assert len(full) == 40 and len(half) == 20 and len(small) == 8
    assert len(np.unique(half.labels)) > 5  # not the first 20 files (digits 0..4 only)
    rows = {full.packed[i].tobytes(): i for i in range(40)}
    half_rows = {rows[s.tobytes()] for s in half.packed}
    assert {rows[s.tobytes()] for s in small.packed} <= half_rows
    again = load("nmnist", half_train=True, **quiet)
    np.testing.assert_array_equal(again.packed, half.packed)
    other = load("nmnist", half_train=True, seed=1, **quiet)
    assert not np.array_equal(other.labels, half.labels) or not np.array_equal(other.packed, half.packed)
    with pytest.raises(DataRequestError, match="half_train"):
        load("nmnist", split="test", half_train=True, **quiet)


# --- missing and damaged data -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("shd", ["shd_train.h5", "shd_test.h5.zip", "zenkelab.org/datasets", "SPIKEBENCH_DATA"]),
        ("nmnist", ["Train/0..9/*.bin", "train.zip", "468j46mzdv", "n-mnist"]),
    ],
)
@pytest.mark.parametrize("state", ["no folder", "empty folder"])
def test_missing_data_raises_with_layout_and_sources(tmp_path, task, expected, state):
    if state == "empty folder":
        (tmp_path / {"shd": "SHD", "nmnist": "NMNIST/Train"}[task]).mkdir(parents=True)
    with pytest.raises(DatasetMissing) as caught:
        load(task, source="real", data_dir=tmp_path)
    assert isinstance(caught.value, SpikebenchError) and isinstance(caught.value, FileNotFoundError)
    message = str(caught.value)
    assert "\n" not in message and str(tmp_path) in message
    for part in expected:
        assert part in message


@pytest.mark.parametrize("task", ["shd", "nmnist"])
def test_auto_falls_back_to_the_twin_with_a_warning(tmp_path, task, warnings_seen):
    data = load(task, data_dir=tmp_path / "nothing", n_samples=6, warn=warnings_seen.append)
    assert data.kind == "synthetic" and data.name == task and len(data) == 6
    assert (
        len(warnings_seen) == 1 and "not found" in warnings_seen[0] and "synthetic" in warnings_seen[0]
    )


def truncate(path, keep=0.5):
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: truncate(write_shd(d)), "truncated"),
        (lambda d: write_shd(d, omit=("labels",)), "lacks labels"),
        (lambda d: write_shd(d, n=5, labels=[0, 1, 25, 3, 4]), r"0\.\.19; sample 2 has 25"),
        (lambda d: write_shd(d, n=3, samples=[([0.1], [700])]), "unit 700"),
        (
            lambda d: write_nmnist(d, files={(3, 0): encode_nmnist([1], [2], [0], [5]) + b"\x01\x02"}),
            "multiple of 5",
        ),
        (lambda d: (write_nmnist(d), (d / "NMNIST/Train/x.bin").write_bytes(b"")), "<digit>/"),
    ],
    ids=[
        "truncated-h5",
        "no-labels",
        "label-range",
        "unit-range",
        "partial-event",
        "outside-digit-folder",
    ],
)
@pytest.mark.parametrize("source", ["real", "auto"])
def test_damaged_data_raises_naming_the_problem(tmp_path, damage, message, source):
    damage(tmp_path)
    task = "nmnist" if (tmp_path / "NMNIST").exists() else "shd"
    # "auto" falls back only when data is missing; damaged data is an error the user must see.
    with pytest.raises(DatasetCorrupt, match=message) as caught:
        load(task, source=source, data_dir=tmp_path, warn=lambda _: None)
    assert isinstance(caught.value, SpikebenchError) and str(tmp_path) in str(caught.value)


def test_bad_arguments_are_request_errors(tmp_path):
    for kwargs in ({"split": "valid"}, {"source": "web"}, {"time_steps": 0}, {"n_samples": -1}):
        with pytest.raises(DataRequestError):
            load("shd", data_dir=tmp_path, **kwargs)
    with pytest.raises(DataRequestError, match="shd, nmnist"):
        load("mnist", data_dir=tmp_path)


# --- cache ------------------------------------------------------------------------------------------


def test_corrupt_cache_entries_are_rebuilt_with_a_warning(tmp_path, warnings_seen):
    write_shd(tmp_path, n=30)
    first = load("shd", source="real", data_dir=tmp_path, warn=warnings_seen.append)
    (entry,) = cache_files(tmp_path)
    for damage in (lambda: truncate(entry, 0.6), lambda: entry.write_bytes(b"garbage" * 100)):
        damage()
        warnings_seen.clear()
        again = load("shd", source="real", data_dir=tmp_path, warn=warnings_seen.append)
        np.testing.assert_array_equal(again.packed, first.packed)
        assert any("cannot be used" in w and entry.name in w for w in warnings_seen)
        assert cache_files(tmp_path) == [entry]
        warnings_seen.clear()
        load("shd", source="real", data_dir=tmp_path, warn=warnings_seen.append)
        assert not any("rebuilding" in w for w in warnings_seen)  # the rebuilt entry is good


def test_cache_entry_with_another_key_inside_is_not_used(tmp_path, warnings_seen):
    write_shd(tmp_path, n=10)
    load("shd", source="real", data_dir=tmp_path, warn=warnings_seen.append)
    load("shd", source="real", data_dir=tmp_path, n_samples=5, warn=warnings_seen.append)
    big, small = sorted(cache_files(tmp_path), key=lambda p: p.stat().st_size, reverse=True)
    os.replace(small, big)  # an entry under another entry's name
    data = load("shd", source="real", data_dir=tmp_path, warn=warnings_seen.append)
    assert len(data) == 10 and any("stored key differs" in w for w in warnings_seen)


def test_inconsistent_sparse_counts_entry_is_rebuilt(tmp_path, warnings_seen):
    write_nmnist(tmp_path, per_digit=1)
    first = load("nmnist", source="real", data_dir=tmp_path, warn=warnings_seen.append)
    (entry,) = cache_files(tmp_path)
    with np.load(entry) as stored:
        arrays = dict(stored)
    arrays["nz_index"][-1] = 10**9  # a valid npz with the right key, but pointing off the array
    np.savez_compressed(entry, **arrays)
    again = load("nmnist", source="real", data_dir=tmp_path, warn=warnings_seen.append)
    np.testing.assert_array_equal(again.packed, first.packed)
    assert any("outside a sample" in w for w in warnings_seen)


@pytest.mark.parametrize("change", ["touch", "resize"])
def test_stale_cache_is_rebuilt_when_the_source_changes(tmp_path, warnings_seen, change):
    path = write_nmnist(tmp_path, per_digit=1) / "4" / "00000.bin"
    load("nmnist", source="real", data_dir=tmp_path, warn=warnings_seen.append)
    (old,) = cache_files(tmp_path)
    if change == "touch":
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    else:
        path.write_bytes(path.read_bytes() + encode_nmnist([1], [1], [1], [10]))
    warnings_seen.clear()
    data = load("nmnist", source="real", data_dir=tmp_path, warn=warnings_seen.append)
    assert any("stale" in w and old.name in w for w in warnings_seen)
    (new,) = cache_files(tmp_path)
    assert new != old
    assert data.packed[4].sum() == 300 + (change == "resize")


def test_cache_disabled_and_cache_keyed_by_parameters(tmp_path):
    write_shd(tmp_path, n=10)
    load("shd", source="real", data_dir=tmp_path, cache=False, warn=lambda _: None)
    assert cache_files(tmp_path) == []
    a = load("shd", source="real", data_dir=tmp_path, time_steps=64, warn=lambda _: None)
    b = load("shd", source="real", data_dir=tmp_path, time_steps=32, warn=lambda _: None)
    assert len(cache_files(tmp_path)) == 2 and (a.time_steps, b.time_steps) == (64, 32)


def test_second_load_is_much_faster(tmp_path):
    write_shd(tmp_path, n=3000, spikes=(300, 600))
    start = time.perf_counter()
    first = load("shd", source="real", data_dir=tmp_path, warn=lambda _: None)
    built = time.perf_counter() - start
    start = time.perf_counter()
    second = load("shd", source="real", data_dir=tmp_path, warn=lambda _: None)
    cached = time.perf_counter() - start
    np.testing.assert_array_equal(first.packed, second.packed)
    print(f"3000 SHD samples: first load {built:.3f} s, cached {cached:.3f} s")
    assert cached < 1.0 and built >= 5 * cached


# --- twins and statistics ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "shape", "classes"),
    [
        (lambda seed: synthetic_shd(n_samples=400, seed=seed), (400, 32, 128), 20),
        (lambda seed: synthetic_nmnist(n_samples=200, seed=seed), (200, 64, 2, 34, 34), 10),
    ],
    ids=["shd", "nmnist"],
)
def test_twins_are_deterministic_with_the_right_layout(make, shape, classes):
    a, b, c = make(0), make(0), make(1)
    assert a.packed.shape == shape and a.packed.dtype == np.uint8 and a.labels.dtype == np.int32
    assert a.kind == "synthetic" and set(a.labels.tolist()) == set(range(classes))
    np.testing.assert_array_equal(a.packed, b.packed)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.packed, c.packed)


@pytest.mark.parametrize(("task", "n"), [("shd", 400), ("nmnist", 200)])
def test_twin_statistics_match_the_target(task, n):
    target = shipped_statistics(task)
    data = load(
        task, source="synthetic", data_dir="/nonexistent/spikebench", n_samples=n, warn=pytest.fail
    )
    stats = dataset_statistics(data)
    assert abs(stats["mean_density"] / target["mean_density"] - 1) < 0.10
    assert np.corrcoef(stats["channel_rate"], target["channel_rate"])[0, 1] > 0.9
    assert np.corrcoef(stats["time_rate"], target["time_rate"])[0, 1] > 0.9
    assert sum(stats["samples_per_class"]) == n and min(stats["samples_per_class"]) > 0


def test_twin_default_sizes_are_the_real_split_sizes():
    test_split = synthetic_shd(n_samples=None, split="test", time_steps=8)
    assert len(test_split) == 2264 and test_split.packed.shape == (2264, 1, 128)
    half = load("shd", source="synthetic", data_dir="/nonexistent", half_train=True, time_steps=8)
    assert len(half) == 4078 and half.packed.shape == (4078, 1, 128)


def test_twin_resamples_channels_and_density():
    stats = shipped_statistics("shd")
    data = twin(stats, n_samples=64, time_steps=100, channels=40, density=0.1, seed=2)
    assert data.packed.shape == (64, 13, 40) and data.time_steps == 100
    assert abs(data.unpacked().mean() - 0.1) < 0.01


def test_dataset_statistics_exact_on_a_small_example():
    spikes = np.zeros((2, 3, 4), np.uint8)
    spikes[0, 0, 1] = spikes[1, 2, 3] = spikes[1, 0, 1] = 1
    data = SpikeData(np.packbits(spikes, axis=1), np.array([0, 5], np.int32), 3, "real", "shd")
    stats = dataset_statistics(data)
    np.testing.assert_allclose(stats["time_rate"], [2 / 8, 0, 1 / 8])
    np.testing.assert_allclose(stats["channel_rate"], [0, 2 / 6, 0, 1 / 6])
    assert stats["mean_density"] == 3 / 24 and stats["n_samples"] == 2
    assert stats["samples_per_class"] == [1, 0, 0, 0, 0, 1] + [0] * 14


def test_shipped_statistics_are_the_published_defaults(tmp_path):
    script = make_dataset_stats()
    read_from = Path(harness.datasets.__file__).with_name("stats")
    assert read_from == script.STATS_DIR  # it writes the files the package reads
    for task, build in script.PUBLISHED.items():
        shipped = shipped_statistics(task)
        assert shipped["source"] == PUBLISHED_SOURCE
        rebuilt = from_json(to_json(build()))
        assert to_json(rebuilt) == to_json(shipped)
        copy = read_statistics(write_statistics(shipped, tmp_path / f"{task}.json"))
        assert to_json(copy) == to_json(shipped)
        assert (tmp_path / f"{task}.json").stat().st_size < 25_000
    assert shipped_statistics("shd")["splits"]["train"]["n_samples"] == 8156
    assert sum(shipped_statistics("nmnist")["splits"]["test"]["samples_per_class"]) == 10000


def test_twins_are_fitted_to_real_data_when_present(tmp_path, warnings_seen):
    write_shd(tmp_path, n=40)
    data = load("shd", source="synthetic", data_dir=tmp_path, warn=warnings_seen.append)
    assert data.kind == "synthetic" and len(data) == 40 and warnings_seen == []
    (entry,) = cache_files(tmp_path, "stats-*.json")
    fitted = fit_statistics("shd", data_dir=tmp_path, warn=warnings_seen.append)
    assert fitted["source"] == f"fitted from real data at {tmp_path / 'SHD'}"
    assert fitted["splits"] == {"train": {"n_samples": 40, "samples_per_class": [2] * 20}}
    real = dataset_statistics(load("shd", source="real", data_dir=tmp_path, warn=lambda _: None))
    np.testing.assert_allclose(fitted["channel_rate"], real["channel_rate"], rtol=1e-3, atol=1e-6)
    entry.write_text("{not json")
    fit_statistics("shd", data_dir=tmp_path, warn=warnings_seen.append)
    assert any("cannot be used" in w for w in warnings_seen)


# --- paths and flags --------------------------------------------------------------------------------


def test_default_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SPIKEBENCH_DATA", str(tmp_path / "explicit"))
    assert default_data_dir() == tmp_path / "explicit"
    monkeypatch.delenv("SPIKEBENCH_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "spikebench" / "data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home" / ".cache" / "spikebench" / "data"


def test_add_data_arguments():
    parser = argparse.ArgumentParser()
    add_data_arguments(parser)
    assert vars(parser.parse_args([])) == {"data": "auto", "data_dir": None}
    parsed = parser.parse_args(["--data", "real", "--data-dir", "/d"])
    assert (parsed.data, parsed.data_dir) == ("real", "/d")
    with pytest.raises(SystemExit):
        parser.parse_args(["--data", "web"])


def test_fixture_events_stay_on_the_sensor():
    x, y, p, t = nmnist_events(np.random.default_rng(0), 9)
    assert x.max() < 34 and y.max() < 34 and set(p.tolist()) <= {0, 1} and np.all(np.diff(t) >= 0)
