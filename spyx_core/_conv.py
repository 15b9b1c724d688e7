"""Valid 2-D convolution on channel-first maps, with two implementations of the same function, and
the matching max-pooling (``max_pool2d``).

``"xla"`` is ``lax.conv_general_dilated``. ``"patches"`` gathers the ``k x k`` shifted views of the
input (im2col by slicing) and contracts them with the kernel in one ``einsum``. On the CPU, XLA
runs a convolution inside a loop body (every step of a compiled epoch is one) 10-30x slower than
the same convolution at top level, while its matmuls stay fast; the patch form avoids that, at
the cost of a ``k * k`` times larger intermediate. ``"auto"`` takes ``"patches"`` on the CPU and
``"xla"`` elsewhere (decided when the function is traced, from ``jax.default_backend()``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

CONV_IMPLS = ("auto", "xla", "patches")


def conv2d(x: jax.Array, w: jax.Array, *, impl: str = "auto") -> jax.Array:
    """``x`` ``[N, C, H, W]`` convolved with ``w`` ``[O, C, k, k]``: ``[N, O, H-k+1, W-k+1]``.

    Raises:
        ValueError: unknown ``impl``.
    """
    if impl == "auto":
        impl = "patches" if jax.default_backend() == "cpu" else "xla"
    if impl == "xla":
        numbers = ("NCHW", "OIHW", "NCHW")
        return jax.lax.conv_general_dilated(x, w, (1, 1), "VALID", dimension_numbers=numbers)
    if impl == "patches":
        k = w.shape[-1]
        rows, cols = x.shape[-2] - k + 1, x.shape[-1] - k + 1
        views = [x[..., i : i + rows, j : j + cols] for i in range(k) for j in range(k)]
        patches = jnp.stack(views, axis=-3)  # [N, C, k*k, H', W']
        return jnp.einsum("ncphw,ocp->nohw", patches, w.reshape(*w.shape[:2], k * k))
    raise ValueError(f"unknown convolution impl {impl!r}; choose one of {', '.join(CONV_IMPLS)}")


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


def max_pool2d(kernel_size: int) -> Callable[[jax.Array], jax.Array]:
    """Non-overlapping ``k x k`` max-pooling of channel-first maps ``[N, C, H, W]`` (remainders dropped).

    A stateless layer for ``run_sequential`` (which applies it to ``[T * B, C, H, W]``).
    """
    window = (1, 1, kernel_size, kernel_size)
    return functools.partial(hk.max_pool, window_shape=window, strides=window, padding="VALID")
