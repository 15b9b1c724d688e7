"""Non-overlapping max-pooling of channel-first maps whose gradient is routed by a mask, not by
XLA's ``select_and_scatter``.

The value is the window maximum; the gradient of each window goes whole to its first maximal
element in row-major order (the element torch's ``max_pool2d`` and XLA's ``select_and_scatter``
with a ``>=`` select pick, so ties, everywhere in binary spike maps, route as in both).
``jnp.max``'s own gradient would split it evenly among ties instead.

Why not ``hk.max_pool``: on the CPU its gradient, a ``select_and_scatter``, costs about 20 times
its forward pass on a spiking feature map (and more than the convolution before it), while the
mask here (an ``argmax`` over the ``k * k`` window, a one-hot, a multiply) is elementwise work
that XLA fuses.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp


def _windows(x: jax.Array, k: int) -> jax.Array:
    """``x`` ``[..., H, W]`` as ``[..., H // k, W // k, k * k]`` (remainders dropped)."""
    rows, cols = x.shape[-2] // k, x.shape[-1] // k
    x = x[..., : rows * k, : cols * k].reshape(*x.shape[:-2], rows, k, cols, k)
    return jnp.moveaxis(x, -3, -2).reshape(*x.shape[:-4], rows, cols, k * k)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _pool(x: jax.Array, k: int) -> jax.Array:
    return _windows(x, k).max(axis=-1)


def _pool_fwd(x: jax.Array, k: int):
    return _pool(x, k), x


def _pool_bwd(k: int, x: jax.Array, g: jax.Array):
    first = jnp.argmax(_windows(x, k), axis=-1)  # the first maximum of each window
    routed = g[..., None] * jax.nn.one_hot(first, k * k, dtype=g.dtype)
    rows, cols = g.shape[-2:]
    dx = routed.reshape(*g.shape, k, k)
    dx = jnp.moveaxis(dx, -2, -3).reshape(*g.shape[:-2], rows * k, cols * k)
    pad = [(0, 0)] * (x.ndim - 2) + [(0, x.shape[-2] - rows * k), (0, x.shape[-1] - cols * k)]
    return (jnp.pad(dx, pad),)


_pool.defvjp(_pool_fwd, _pool_bwd)


def max_pool2d(kernel_size: int) -> Callable[[jax.Array], jax.Array]:
    """Non-overlapping ``k x k`` max-pooling of channel-first maps ``[N, C, H, W]`` (remainders
    dropped), its gradient routed to each window's first maximum (module docstring).

    A stateless layer for ``run_sequential`` (which applies it to ``[T * B, C, H, W]``).
    """
    return lambda x: _pool(x, kernel_size)
