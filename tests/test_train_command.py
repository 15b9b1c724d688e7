"""``spikebench train`` on a tiny synthetic twin: it learns, and its weights load back."""

from __future__ import annotations

import re

import numpy as np
import pytest

from frameworks.checkpoint import load_weights
from harness.cli import main

TINY = [
    "train",
    "--data",
    "synthetic",
    "--samples",
    "1024",
    "--test-samples",
    "128",
    "--time-steps",
    "32",
    "--hidden",
    "32",
    "--batch-size",
    "32",
    "--lr",
    "5e-3",
]
LINE = re.compile(r"epoch (\d+)/3  loss \S+  penalty \S+  train acc (\S+)  test acc (\S+)  \S+ s")


def test_train_learns_with_augmentation_and_regularisers_and_saves_weights(tmp_path, capsys):
    save = tmp_path / "shd.npz"
    options = ["--augment", "shift,jitter", "--max-shift", "1", "--silence", "0.5", "--sparsity", "8"]
    args = [*TINY, "--epochs", "3", *options, "--data-dir", str(tmp_path), "--save", str(save)]
    assert main(args) == 0
    out = capsys.readouterr().out
    epochs = [LINE.search(line) for line in out.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == 3 and all(epochs), out
    train_acc = [float(m.group(2)) for m in epochs]
    test_acc = [float(m.group(3)) for m in epochs]
    assert train_acc[-1] > train_acc[0] and train_acc[-1] > 0.2, out  # chance is 0.05
    assert test_acc[-1] > 0.2, out
    assert "augment: shift,jitter" in out and "silence(min 0.5)" in out
    spec, weights = load_weights(save)
    assert spec.time_steps == 32 and spec.layers[1].size == 32
    assert all(np.isfinite(w).all() for w in weights.values())


def test_train_refuses_what_it_cannot_do(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([*TINY, "--augment", "mirror"])
    assert "unknown augmentation mirror" in capsys.readouterr().err
    too_big = [*TINY, "--batch-size", "2048", "--data-dir", str(tmp_path)]
    assert main([*too_big, "--save", str(tmp_path / "x.npz")]) == 2
    assert "cannot fill one batch of 2048" in capsys.readouterr().err
