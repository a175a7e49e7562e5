"""An exact, vectorised stand-in for Lava's reference convolution (``lava.proc.conv.utils``).

Lava's fixed-point ``Conv`` model computes every step with ``conv_scipy``: one
``scipy.signal.convolve2d`` per (output, input) channel pair, in float64, cast to the
weights' integer type. On a 32×32 SqueezeNet that loop is most of Lava's simulation time.
:func:`conv` computes the same sum in float64 too, for all channel pairs at once (one
matrix product; one ``einsum`` over all groups of a grouped or depthwise layer)::

    out[x, y, k] = Σ_{c, i, j} in_pad[s₀x + d₀i, s₁y + d₁j, g(k)·C_g + c] · w[k, K₀−1−i, K₁−1−j, c]

(``convolve2d`` flips the kernel; ``s`` stride, ``d`` dilation, ``C_g`` input channels per
group), and casts to the weights' type as Lava does. Integer sums are exact in float64 in any order
while ``|sum| < 2**53`` (Loihi's 24-bit messages and 8-bit weights stay far below), so the
result is bit for bit Lava's. An all-zero input gives zeros at once.
:func:`use_in_lava` installs it in Lava's module for the run of :mod:`.in_lava`, before the
runtime forks its process models; every other part of Lava's ``Conv`` model (ports,
precision, clamping) stays Lava's. When Lava's actors are threads of one process
(:mod:`.large_networks`), the matrix products run on a pool of :data:`PRODUCT_THREADS`
threads: numpy releases the GIL in BLAS, and OpenBLAS (built for 128 threads) terminated
DenseNet-121's run of 2603 actor threads with "too many memory regions". The ``einsum`` of
grouped layers calls no BLAS and runs in the actor's thread.
``tests/lava/test_exact_conv.py`` checks it against ``conv_scipy`` itself.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

PRODUCT_THREADS = 2  # threads that call BLAS when Lava's actors are threads
_pool: ThreadPoolExecutor | None = None  # set by use_in_lava(threads=True)


def _grouped(windows: np.ndarray, kernel: np.ndarray, groups: int) -> np.ndarray:
    """Every group's windows · its kernels at once, in numpy's own loops (no BLAS, so no
    pool hand-off; depthwise layers have hundreds of groups)."""
    x, y, c, k0, k1 = windows.shape
    parts = windows.reshape(x, y, groups, c // groups, k0, k1)  # [X', Y', G, C_g, k0, k1]
    kernels = kernel.reshape(groups, -1, k0, k1, c // groups)  # [G, K_g, k0, k1, C_g]
    return np.einsum("xygcij,gkijc->xygk", parts, kernels).reshape(x, y, -1)


def conv(
    input_: np.ndarray,
    weight: np.ndarray,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
) -> np.ndarray:
    """Lava's ``utils.conv`` (``[X, Y, C]`` input, ``[K, k₀, k₁, C/groups]`` weights,
    ``[X', Y', K]`` output, all sizes in Lava's XY order), computed exactly."""
    k0, k1 = (int(v) for v in kernel_size)
    s0, s1 = (int(v) for v in stride)
    p0, p1 = (int(v) for v in padding)
    d0, d1 = (int(v) for v in dilation)
    groups = int(groups)
    n_out = weight.shape[0]
    x_out = (input_.shape[0] + 2 * p0 - d0 * (k0 - 1) - 1) // s0 + 1
    y_out = (input_.shape[1] + 2 * p1 - d1 * (k1 - 1) - 1) // s1 + 1
    if not np.any(input_):
        return np.zeros((x_out, y_out, n_out), weight.dtype)
    padded = np.pad(np.asarray(input_, np.float64), ((p0, p0), (p1, p1), (0, 0)))
    span = (d0 * (k0 - 1) + 1, d1 * (k1 - 1) + 1)
    windows = sliding_window_view(padded, span, axis=(0, 1))  # [X'', Y'', C, span0, span1]
    windows = windows[: s0 * (x_out - 1) + 1 : s0, : s1 * (y_out - 1) + 1 : s1, :, ::d0, ::d1]
    kernel = np.asarray(weight, np.float64)[:, ::-1, ::-1, :]  # [K, k0, k1, C_g]
    if groups > 1:
        out = _grouped(windows, kernel, groups)
    elif _pool is None:
        out = np.tensordot(windows, kernel, ((2, 3, 4), (3, 1, 2)))
    else:  # BLAS from the pool's threads only
        out = _pool.submit(np.tensordot, windows, kernel, ((2, 3, 4), (3, 1, 2))).result()
    return out.astype(weight.dtype)


def use_in_lava(threads: bool = False) -> None:
    """Make Lava's ``Conv`` models compute with :func:`conv` (in this process and the
    process models it forks); ``threads``: the actors are threads, and the matrix products
    run on :data:`PRODUCT_THREADS` threads of a pool."""
    global _pool
    from lava.proc.conv import utils

    utils.conv = conv
    if not threads:  # a forked model has no pool threads: a product sent there never returns
        _pool = None
    elif _pool is None:
        _pool = ThreadPoolExecutor(PRODUCT_THREADS, thread_name_prefix="exact-conv")
