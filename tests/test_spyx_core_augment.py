"""On-device augmentation and encodings, and the proof that they run inside the compiled epoch."""

from __future__ import annotations

import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from datasets_fixtures import synthetic_shd

import spyx_core
from frameworks.adapters.spyx_core_adapter import make_spec_trainer, to_haiku
from frameworks.spec import init_weights, shd_spec

KEY = jax.random.key(0)


def raster(shape=(20, 6, 16), p=0.3, seed=1) -> jax.Array:
    """Random binary spikes ``[T, B, C]``, float32."""
    return jax.random.bernoulli(jax.random.key(seed), p, shape).astype(jnp.float32)


def shifted(x: np.ndarray, s: int, axis: int) -> np.ndarray:
    """``x`` moved by ``s`` along ``axis``, zero-filled (numpy reference)."""
    out = np.zeros_like(x)
    n = x.shape[axis]
    src = [slice(None)] * x.ndim
    dst = [slice(None)] * x.ndim
    src[axis] = slice(max(0, -s), n - max(0, s))
    dst[axis] = slice(max(0, s), n - max(0, -s))
    out[tuple(dst)] = x[tuple(src)]
    return out


def shifts_found(before: np.ndarray, after: np.ndarray, axis: int, max_shift: int) -> set[int]:
    """Every shift in range that maps ``before`` onto ``after``."""
    found = set()
    for s in range(-max_shift, max_shift + 1):
        if np.array_equal(shifted(before, s, axis), after):
            found.add(s)
    return found


# --- augmentations -------------------------------------------------------------------------------


def test_shift_channels_moves_each_sample_by_one_shift_with_zero_fill():
    x = raster()
    out = np.asarray(spyx_core.shift_channels(KEY, x, 3))
    assert out.shape == x.shape and out.dtype == np.float32
    per_sample = [shifts_found(np.asarray(x[:, b]), out[:, b], 1, 3) for b in range(x.shape[1])]
    assert all(per_sample), "every sample is its input shifted along the channels"
    assert len({min(s, key=abs) for s in per_sample}) > 1, "samples draw their own shifts"
    assert out.sum() <= float(x.sum())  # zero fill: nothing wraps around


def test_jitter_time_moves_each_channel_of_each_sample_in_time():
    x = raster()
    out = np.asarray(spyx_core.jitter_time(KEY, x, 2))
    assert out.shape == x.shape and out.dtype == np.float32
    for b in range(x.shape[1]):
        for c in range(x.shape[2]):
            assert shifts_found(np.asarray(x[:, b, c]), out[:, b, c], 0, 2), (b, c)
    assert not np.array_equal(out, np.asarray(x))


@pytest.mark.parametrize(
    "augment",
    [
        functools.partial(spyx_core.shift_channels, max_shift=3),
        functools.partial(spyx_core.jitter_time, max_shift=2),
        spyx_core.chain_augments(
            functools.partial(spyx_core.shift_channels, max_shift=3),
            functools.partial(spyx_core.jitter_time, max_shift=2),
        ),
    ],
    ids=["shift", "jitter", "chain"],
)
def test_augmentation_is_deterministic_per_key_and_changes_the_batch(augment):
    x = raster()
    first, again = augment(KEY, x), jax.jit(augment)(KEY, x)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, augment(jax.random.key(1), x))
    assert not np.array_equal(first, x)


def test_zero_shift_is_the_identity_and_negative_is_refused():
    x = raster()
    np.testing.assert_array_equal(spyx_core.shift_channels(KEY, x, 0), x)
    np.testing.assert_array_equal(spyx_core.jitter_time(KEY, x, 0), x)
    with pytest.raises(ValueError, match="max_shift"):
        spyx_core.jitter_time(KEY, x, -1)
    with pytest.raises(ValueError, match="time or batch"):
        spyx_core.shift_channels(KEY, x, 1, axis=1)


# --- encodings -------------------------------------------------------------------------------


def test_rate_code_fires_at_the_scaled_rate():
    x = jnp.asarray([[0.0, 0.5, 1.0, 2.0]], jnp.float32)
    spikes = np.asarray(spyx_core.rate_code(KEY, x, 4000, max_rate=0.5))
    assert spikes.shape == (4000, 1, 4) and set(np.unique(spikes)) <= {0.0, 1.0}
    np.testing.assert_allclose(spikes.mean(axis=0)[0], [0.0, 0.25, 0.5, 0.5], atol=0.03)
    np.testing.assert_array_equal(spikes, spyx_core.rate_code(KEY, x, 4000, max_rate=0.5))


def test_latency_code_golden():
    # t = round((1 - x) * (T - 1)) with T = 5; x <= 0.01 stays silent
    x = jnp.asarray([[1.0, 0.5, 0.3, 0.005, 0.0]], jnp.float32)
    spikes = np.asarray(spyx_core.latency_code(x, 5))
    expected = np.zeros((5, 1, 5), np.float32)
    expected[0, 0, 0] = expected[2, 0, 1] = expected[3, 0, 2] = 1.0  # 0.7 * 4 = 2.8 -> 3
    np.testing.assert_array_equal(spikes, expected)


def test_angle_code_golden():
    # edges 0, 1, 2, 3: bins [0, 1) -> 0, [1, 2) -> 1, [2, 3) -> 2, beyond -> clipped
    x = jnp.asarray([[-1.0, 0.5, 1.0, 2.9, 5.0]], jnp.float32)
    spikes = np.asarray(spyx_core.angle_code(x, 3, neurons=4, low=0.0, high=3.0))
    assert spikes.shape == (3, 1, 5, 4)
    np.testing.assert_array_equal(spikes[0, 0].argmax(-1), [0, 0, 1, 2, 3])
    np.testing.assert_array_equal(spikes.sum(-1), np.ones((3, 1, 5)))
    np.testing.assert_array_equal(spikes[0], spikes[2])


def test_augment_key_accepts_typed_legacy_and_integer_keys():
    typed = spyx_core.augment_key(jax.random.key(3))
    legacy = spyx_core.augment_key(jax.random.key_data(jax.random.key(3)))
    np.testing.assert_array_equal(jax.random.key_data(typed), jax.random.key_data(legacy))
    scalar = jax.jit(spyx_core.augment_key)(jnp.uint32(3))
    np.testing.assert_array_equal(jax.random.key_data(scalar), jax.random.key_data(typed))
    with pytest.raises(ValueError, match="cannot make a PRNG key"):
        spyx_core.augment_key(jnp.zeros((3,), jnp.uint32))


# --- inside the compiled epoch -------------------------------------------------------------------

T, B = 16, 8
SHIFT = functools.partial(spyx_core.shift_channels, max_shift=2)


def silence(counts):
    return 1e-2 * spyx_core.silence_penalty(counts, 1.0)


@pytest.fixture
def setup():
    """A tiny spec, its weights and a staged twin (32 samples, 4 steps per epoch)."""
    spec = shd_spec(channels=8, hidden=8, time_steps=T)
    weights = init_weights(spec, seed=0)
    data = synthetic_shd(n_samples=32, time_steps=T, channels=8, seed=0)
    staged = jax.device_put(spyx_core.StagedData(data.packed, data.labels))
    return spec, weights, staged


def compiled_epoch(setup, **options):
    spec, weights, staged = setup
    trainer = make_spec_trainer(spec, weights, batch_size=B, time_steps=T, **options)
    state = jax.device_put(trainer.init(to_haiku(spec, weights)))
    key = jax.device_put(jnp.uint32(5))
    lowered = jax.jit(trainer.epoch).lower(state, staged, key)
    return lowered, lowered.compile(), state, key


HOST_MARKERS = ("outfeed", "infeed", "send(", "recv(", "callback", "host")


def test_augmented_regularised_epoch_is_one_program_of_state_data_and_key(setup):
    _, _, staged = setup
    lowered, compiled, state, key = compiled_epoch(setup, augment=SHIFT, regulariser=silence)
    inputs = jax.tree.leaves(lowered.args_info)
    expected = [*jax.tree.leaves(state), staged.spikes, staged.labels, key]
    assert [(a.shape, a.dtype) for a in inputs] == [(x.shape, x.dtype) for x in expected]
    text = compiled.as_text()
    entry = text[text.index("ENTRY") :]
    assert len(set(re.findall(r"parameter\((\d+)\)", entry))) == len(expected)
    assert not [marker for marker in HOST_MARKERS if marker in text.lower()]
    assert "threefry" in lowered.as_text()  # the augmentation's draws are in the program
    with jax.transfer_guard("disallow"):  # no implicit host transfer while the epoch runs
        _, metrics = compiled(state, staged, key)
    assert metrics.loss.shape == metrics.penalty.shape == (32 // B,)


def test_plain_epoch_draws_no_random_numbers(setup):
    lowered, compiled, state, key = compiled_epoch(setup)
    assert "threefry" not in lowered.as_text()  # the hash shuffle is not a PRNG
    _, metrics = compiled(state, setup[2], key)
    assert metrics.penalty is None


def test_augmented_training_is_deterministic_per_key_and_differs_from_plain(setup):
    _, plain, state, key = compiled_epoch(setup)
    _, augmented, _, _ = compiled_epoch(setup, augment=SHIFT)
    staged = setup[2]
    loss = lambda epoch, k: np.asarray(epoch(state, staged, k)[1].loss)  # noqa: E731
    np.testing.assert_array_equal(loss(augmented, key), loss(augmented, key))
    assert not np.array_equal(loss(augmented, key), loss(plain, key))
    assert not np.array_equal(loss(augmented, key), loss(augmented, jnp.uint32(6)))


def test_regulariser_needs_the_counts(setup):
    def apply(params, x):  # a readout without counts
        return jnp.zeros((x.shape[0], x.shape[1], 20))

    trainer = spyx_core.make_trainer(
        apply, optax.sgd(0.1), batch_size=B, time_steps=T, regulariser=silence
    )
    with pytest.raises(TypeError, match="return_counts=True"):
        jax.eval_shape(trainer.epoch, trainer.init({}), setup[2], jax.random.key(0))
