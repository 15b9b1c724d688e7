"""spyx_core's convolution and max-pooling at tiny shapes: every convolution implementation computes
the value and gradients of a float64 numpy convolution written from the definition (sliding
windows); the pooling's gradient goes to each window's first maximum, ties included."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spyx_core
from spyx_core._conv import MAX_PIECES, PIECE_FRAMES, piece_frames, pieces_conv, weight_grad

IMPLS = [impl for impl in spyx_core.CONV_IMPLS if impl != "auto"]
N, C, OUT, K, SIZE = 3, 2, 4, 3, 6


def _windows(x: np.ndarray) -> np.ndarray:
    """``[N, C, H', W', k, k]``: every ``K x K`` window of ``x``."""
    return np.lib.stride_tricks.sliding_window_view(x, (K, K), axis=(2, 3))


def _reference(x: np.ndarray, w: np.ndarray, g: np.ndarray):
    """Value, weight gradient and input gradient of ``sum(g * conv(x, w))`` in float64."""
    value = np.einsum("nchwij,ocij->nohw", _windows(x), w)
    dw = np.einsum("nchwij,nohw->ocij", _windows(x), g)
    dx = np.zeros_like(x)
    for i in range(K):
        for j in range(K):  # output (h, w) reads input (h + i, w + j) through w[:, :, i, j]
            dx[:, :, i : i + g.shape[2], j : j + g.shape[3]] += np.einsum(
                "nohw,oc->nchw", g, w[:, :, i, j]
            )
    return value, dw, dx


@pytest.fixture(scope="module")
def case():
    rng = np.random.default_rng(0)
    x = rng.poisson(0.5, (N, C, SIZE, SIZE)).astype(np.float64)  # counts, as N-MNIST's
    w = rng.normal(size=(OUT, C, K, K))
    g = rng.normal(size=(N, OUT, SIZE - K + 1, SIZE - K + 1))
    return x, w, g, _reference(x, w, g)


@pytest.mark.parametrize("impl", IMPLS)
def test_value_and_gradients_equal_the_definition(case, impl):
    x, w, g, (value, dw, dx) = case
    f32 = [jnp.asarray(a, jnp.float32) for a in (x, w, g)]

    def objective(x, w):
        return (f32[2] * spyx_core.conv2d(x, w, impl=impl)).sum()

    with jax.default_matmul_precision("highest"):
        out = jax.jit(lambda x, w: spyx_core.conv2d(x, w, impl=impl))(*f32[:2])
        grad_x, grad_w = jax.jit(jax.grad(objective, argnums=(0, 1)))(*f32[:2])
    np.testing.assert_allclose(out, value, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad_w, dw, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad_x, dx, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("chunk", [1, 2, 5])  # 2 does not divide N = 3: pieces of 1 image
def test_weight_grad_is_the_same_for_any_piece_size(case, chunk):
    x, _, g, (_, dw, _) = case
    with jax.default_matmul_precision("highest"):
        got = weight_grad(jnp.asarray(x, jnp.float32), jnp.asarray(g, jnp.float32), K, chunk=chunk)
    np.testing.assert_allclose(got, dw, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("size", [1, 2])  # 2 does not divide N = 3: a last piece of 1 frame
def test_pieces_conv_is_the_same_for_any_piece_size(case, size):
    x, w, g, (value, dw, dx) = case
    x, w, g = (jnp.asarray(a, jnp.float32) for a in (x, w, g))
    with jax.default_matmul_precision("highest"):
        out, pullback = jax.vjp(lambda x, w: pieces_conv(x, w, size), x, w)
        grad_x, grad_w = pullback(g)
    for got, want in ((out, value), (grad_w, dw), (grad_x, dx)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_pieces_grow_beyond_the_most_pieces_a_convolution_compiles():
    assert piece_frames(1) == piece_frames(PIECE_FRAMES * MAX_PIECES) == PIECE_FRAMES
    assert piece_frames(4 * PIECE_FRAMES * MAX_PIECES) == 4 * PIECE_FRAMES  # B=128, T=64: 64 frames
    assert piece_frames(PIECE_FRAMES * MAX_PIECES + 1) == PIECE_FRAMES + 1


def test_unknown_impl_lists_the_known_ones():
    with pytest.raises(ValueError, match="hybrid"):
        spyx_core.conv2d(jnp.zeros((1, 1, 3, 3)), jnp.zeros((1, 1, 2, 2)), impl="fft")


def test_max_pool_routes_each_window_gradient_to_its_first_maximum():
    # one 2 x 2 map of 5 x 5 (remainder row and column dropped): windows with ties and without
    x = np.zeros((1, 1, 5, 5), np.float32)
    x[0, 0, :4, :4] = [[1, 1, 0, 2], [1, 0, 3, 2], [0, 0, 5, 5], [0, 0, 5, 5]]
    x[0, 0, 4, :] = 9.0  # the dropped row: never a maximum
    g = np.array([[[[10.0, 20.0], [30.0, 40.0]]]], np.float32)
    value, pull = jax.vjp(spyx_core.max_pool2d(2), jnp.asarray(x))
    expected_dx = np.zeros_like(x)
    expected_dx[0, 0, 0, 0] = 10.0  # tie of three ones: the first, row-major
    expected_dx[0, 0, 1, 2] = 20.0  # the 3
    expected_dx[0, 0, 2, 0] = 30.0  # all zeros: the first
    expected_dx[0, 0, 2, 2] = 40.0  # four fives: the first
    np.testing.assert_array_equal(value, [[[[1.0, 3.0], [0.0, 5.0]]]])
    np.testing.assert_array_equal(pull(jnp.asarray(g))[0], expected_dx)
