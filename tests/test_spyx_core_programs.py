"""spyx_core's two training programs (``frameworks.jax_base.PROGRAMS``): one compiled step in a host
loop trains as the paper's one compiled epoch, and the variants name what they run. (The
convolutions each program takes by default: tests/test_spyx_core_conv.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import frameworks
import spyx_core
from frameworks.adapter import SpikeData
from frameworks.adapters.spyx_core_adapter import SpyxCoreAdapter
from frameworks.spec import init_weights, nmnist_spec, shd_spec

SAMPLES, BATCH = 12, 4  # 3 steps per epoch


@pytest.fixture(scope="module")
def case():
    """A tiny SHD net (8 channels, 16 hidden, 6 time steps) with weights that make it fire."""
    spec = shd_spec(channels=8, hidden=16, time_steps=6)
    weights = {k: v * 3.0 if k.endswith("weight") else v for k, v in init_weights(spec, seed=0).items()}
    rng = np.random.default_rng(0)
    spikes = rng.random((SAMPLES, spec.time_steps, *spec.input_shape)) < 0.3
    labels = rng.integers(0, spec.n_classes, SAMPLES).astype(np.int32)
    data = SpikeData(spyx_core.pack_time(spikes), labels, spec.time_steps, "synthetic", "shd")
    return spec, weights, data


def _train(program: str, case, epochs: int = 2):
    spec, weights, data = case
    adapter = SpyxCoreAdapter(program=program)
    session = adapter.session(spec, weights, data, device="cpu", batch_size=BATCH, seed=3)
    session.compile()
    losses = [session.fetch(session.train_epoch(epoch)).losses for epoch in range(epochs)]
    return session, np.concatenate(losses), session.weights(), session.evaluate(case[2])


def test_the_step_program_trains_as_the_epoch_program(case):
    # XLA fuses the two programs differently, and Adam normalises each gradient by its own scale:
    # where a gradient is near zero, float32 rounding decides its step's sign, so a few weights
    # may part by up to a step (the learning rate).
    step, step_losses, step_weights, step_eval = _train("step", case)
    epoch, epoch_losses, epoch_weights, epoch_eval = _train("epoch", case)
    np.testing.assert_allclose(step_eval, epoch_eval, rtol=1e-3)
    assert "program=step" in step.compile_kind
    assert "program=epoch" in epoch.compile_kind
    assert step_losses.shape == (2 * SAMPLES // BATCH,)
    assert len(set(np.round(step_losses, 4))) > 1  # the updates move the loss
    np.testing.assert_allclose(step_losses, epoch_losses, rtol=1e-6)  # same samples, same order
    for name, value in epoch_weights.items():  # all but a few near-zero gradients' weights agree
        far = np.abs(step_weights[name] - value) > 1e-4
        assert far.mean() < 0.1, name
        np.testing.assert_allclose(
            step_weights[name], value, rtol=0, atol=case[0].learning_rate, err_msg=name
        )


SPECS = {"nmnist": nmnist_spec(), "shd": shd_spec(channels=16, hidden=8, time_steps=4)}


@pytest.mark.parametrize(
    ("name", "platform", "task", "expected"),
    [
        ("spyx_core", "cpu", "nmnist", "program=step conv=pieces"),
        ("spyx_core", "cpu", "shd", "program=epoch"),
        ("spyx_core@step", "cpu", "shd", "program=step"),
        ("spyx_core@step-hybrid", "cpu", "nmnist", "program=step conv=hybrid"),
        ("spyx_core@epoch", "cpu", "nmnist", "program=epoch conv=patches"),
        ("spyx_core", "gpu", "nmnist", "program=epoch conv=xla"),
        ("spyx_core", "gpu", "shd", "program=epoch conv=xla"),
        ("spyx_core@step-xla", "gpu", "nmnist", "program=step conv=xla"),
    ],
)
def test_variants_resolve_and_name_their_program_and_convolution(name, platform, task, expected):
    """On the CPU a network that convolves trains one step per program, any other one epoch per
    program; elsewhere every network one epoch per program."""
    resolved = frameworks.load(name).for_platform(platform, SPECS[task])
    assert resolved.describe().startswith(expected)


def test_explicit_choices_survive_the_platform_defaults():
    conv_net = SPECS["nmnist"]
    adapter = frameworks.load("spyx_core@step-xla").for_platform("cpu", conv_net)
    assert (adapter.program, adapter.conv, adapter.evaluation_conv) == ("step", "xla", "xla")
    # evaluation loops over batches in one program: the epoch program's convolution
    assert frameworks.load("spyx_core").for_platform("cpu", conv_net).evaluation_conv == "patches"
    on_gpu = frameworks.load("spyx_core").for_platform("gpu", conv_net)
    assert (on_gpu.program, on_gpu.conv) == ("epoch", "xla")
    with pytest.raises(ValueError, match="unknown program"):
        SpyxCoreAdapter(program="layer")
