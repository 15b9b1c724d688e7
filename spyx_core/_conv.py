"""Valid 2-D convolution on channel-first maps, with four implementations of the same function.

``"xla"`` is ``lax.conv_general_dilated``, differentiated by JAX. ``"patches"`` gathers the
``k x k`` shifted views of the input (im2col by slicing) and contracts them with the kernel in one
``einsum``. ``"hybrid"`` computes the value and the input gradient with XLA's convolution and the
weight gradient as a matmul over patches (``jax.custom_vjp``). ``"pieces"`` runs XLA's convolution,
its input gradient and its weight gradient on pieces of ``PIECE_FRAMES`` frames each, unrolled
(``jax.custom_vjp``).

Why so many: on the CPU, XLA runs a convolution inside a loop body (every step of a compiled epoch
is one) 10-30x slower than the same convolution at top level, while its matmuls stay fast; the
patch form avoids that, at the cost of a ``k * k`` times larger intermediate. At top level (one
compiled program per training step, ``frameworks.jax_base``) XLA's forward and input-gradient
convolutions are fast, but its weight gradient (a convolution whose kernel is the whole output
map) is several times slower than the same contraction as a matmul: ``"hybrid"`` takes the
fast half of each. Faster still: XLA's CPU convolutions, weight gradient included, run several
times faster on a few frames at a time than on the thousands (``B * T``) a layer-at-a-time network
hands them at once, presumably because a small piece's operands stay in cache; ``"pieces"`` splits
the frames, unrolled at top level (a loop would put the convolution back inside a loop body).
``"auto"`` takes ``"patches"`` on the CPU and ``"xla"`` elsewhere (decided
when the function is traced, from ``jax.default_backend()``): the choice for a convolution inside
a loop. docs/cpu-performance.md says which one each program uses.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

CONV_IMPLS = ("auto", "xla", "patches", "hybrid", "pieces")
_NCHW = ("NCHW", "OIHW", "NCHW")


def conv2d(x: jax.Array, w: jax.Array, *, impl: str = "auto") -> jax.Array:
    """``x`` ``[N, C, H, W]`` convolved with ``w`` ``[O, C, k, k]``: ``[N, O, H-k+1, W-k+1]``.

    Raises:
        ValueError: unknown ``impl``.
    """
    if impl == "auto":
        impl = "patches" if jax.default_backend() == "cpu" else "xla"
    if impl not in _IMPLS:
        raise ValueError(f"unknown convolution impl {impl!r}; choose one of {', '.join(CONV_IMPLS)}")
    return _IMPLS[impl](x, w)


def _xla(x: jax.Array, w: jax.Array) -> jax.Array:
    return jax.lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=_NCHW)


def _patches(x: jax.Array, rows: int, cols: int, k: int) -> jax.Array:
    """The ``k * k`` shifted ``rows x cols`` views of ``x`` ``[N, C, H, W]``:
    ``[N, C, k*k, rows, cols]``."""
    return jnp.stack([x[..., i : i + rows, j : j + cols] for i in range(k) for j in range(k)], axis=2)


def _patch_conv(x: jax.Array, w: jax.Array) -> jax.Array:
    k = w.shape[-1]
    patches = _patches(x, x.shape[-2] - k + 1, x.shape[-1] - k + 1, k)
    return jnp.einsum("ncphw,ocp->nohw", patches, w.reshape(*w.shape[:2], k * k))


WEIGHT_GRAD_CHUNK = 128
"""Images per piece of the weight gradient's loop (fewer where that does not divide ``N``)."""


def weight_grad(x: jax.Array, g: jax.Array, k: int, *, chunk: int = WEIGHT_GRAD_CHUNK) -> jax.Array:
    """The gradient of ``sum(g * conv2d(x, w))`` with respect to ``w`` ``[O, C, k, k]``:
    ``dw[o, c, i, j] = sum_{n,h,w} g[n,o,h,w] x[n,c,h+i,w+j]``, as matmuls over the patches of
    ``x``, accumulated over pieces of ``chunk`` images so that each piece's patches (``k * k``
    times its input) stay small instead of materialising the patches of all ``N`` images."""
    n = x.shape[0]
    size = max(d for d in range(1, min(chunk, n) + 1) if n % d == 0)

    def piece(dw: jax.Array, xg: tuple[jax.Array, jax.Array]):
        x_piece, g_piece = xg
        patches = _patches(x_piece, g.shape[-2], g.shape[-1], k)
        return dw + jnp.einsum("ncphw,nohw->ocp", patches, g_piece), None

    pieces = (x.reshape(n // size, size, *x.shape[1:]), g.reshape(n // size, size, *g.shape[1:]))
    dw = jnp.zeros((g.shape[1], x.shape[1], k * k), jnp.result_type(x, g))
    dw, _ = jax.lax.scan(piece, dw, pieces)
    return dw.reshape(g.shape[1], x.shape[1], k, k)


@jax.custom_vjp
def _hybrid(x: jax.Array, w: jax.Array) -> jax.Array:
    return _xla(x, w)


def _hybrid_fwd(x: jax.Array, w: jax.Array):
    return _xla(x, w), (x, w)


def _hybrid_bwd(residuals, g: jax.Array):
    x, w = residuals
    # XLA's transposed convolution; dead code (and compiled away) where x is data, as for a first layer
    dx = jax.vjp(lambda x: _xla(x, w), x)[1](g)[0]
    return dx, weight_grad(x, g, w.shape[-1])


_hybrid.defvjp(_hybrid_fwd, _hybrid_bwd)

PIECE_FRAMES = 16
"""Frames per piece of ``"pieces"`` (the last piece is shorter where this does not divide ``N``):
chosen by hand from 16, 32 and 64 on the N-MNIST net's convolutions on a 2-core CPU (a probe not
kept; scripts/cpu/conv_ops.py times this choice against the other forms); each piece is one more
convolution to compile."""


MAX_PIECES = 128
"""At most this many pieces per convolution: beyond ``PIECE_FRAMES * MAX_PIECES`` frames (2048, as
N-MNIST's B=32, T=64) the pieces grow instead (``piece_frames``), because each piece is one more
convolution to compile, three with the gradients (spyx_core's N-MNIST step with 128 pieces
per convolution compiled in 21-28 s on 2 cores, results/cpu-2core/table2-n128-pieces)."""


def piece_frames(frames: int) -> int:
    """Frames per piece of a ``"pieces"`` convolution of ``frames`` frames."""
    return max(PIECE_FRAMES, -(-frames // MAX_PIECES))


def _in_pieces(x: jax.Array, size: int) -> list[jax.Array]:
    return [x[start : start + size] for start in range(0, x.shape[0], size)]


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def pieces_conv(x: jax.Array, w: jax.Array, size: int = PIECE_FRAMES) -> jax.Array:
    """``conv2d(x, w, impl="xla")`` computed on pieces of ``size`` frames, and so are its input and
    weight gradients (the weight gradient summed over the pieces)."""
    return jnp.concatenate([_xla(piece, w) for piece in _in_pieces(x, size)])


def _pieces_fwd(x: jax.Array, w: jax.Array, size: int):
    return pieces_conv(x, w, size), (x, w)


def _pieces_bwd(size: int, residuals, g: jax.Array):
    x, w = residuals
    pieces = zip(_in_pieces(x, size), _in_pieces(g, size), strict=True)
    dx, dw = zip(*(jax.vjp(_xla, x_piece, w)[1](g_piece) for x_piece, g_piece in pieces), strict=True)
    # dx is dead code (and compiled away) where x is data, as for a first layer
    return jnp.concatenate(dx), functools.reduce(jnp.add, dw)


pieces_conv.defvjp(_pieces_fwd, _pieces_bwd)

_IMPLS: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {
    "xla": _xla,
    "patches": _patch_conv,
    "hybrid": _hybrid,
    "pieces": lambda x, w: pieces_conv(x, w, piece_frames(x.shape[0])),
}


class Conv2D(hk.Module):
    """A valid, bias-free, channel-first convolution whose kernel ``w`` is ``[O, C, k, k]``.

    Initialised like Haiku's: TruncatedNormal(0, 1 / sqrt(C k k)).
    """

    def __init__(
        self, out_channels: int, kernel_size: int, *, impl: str = "auto", name: str | None = None
    ):
        super().__init__(name=name)
        if impl not in CONV_IMPLS:
            raise ValueError(f"unknown convolution impl {impl!r}; choose one of {CONV_IMPLS}")
        self.out_channels, self.kernel_size, self.impl = out_channels, kernel_size, impl

    def __call__(self, x: jax.Array) -> jax.Array:
        channels, k = x.shape[-3], self.kernel_size
        init = hk.initializers.TruncatedNormal(stddev=1.0 / np.sqrt(channels * k * k))
        w = hk.get_parameter("w", (self.out_channels, channels, k, k), x.dtype, init=init)
        return conv2d(x, w, impl=self.impl)
