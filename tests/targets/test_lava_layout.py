"""Layouts at the Lava boundary: TNX ↔ NXT (SpikingJelly and Lava-DL time axes), PyTorch ↔
Lava `(x, y, f)` shapes, flattening and convolution kernels."""

from __future__ import annotations

import numpy as np
import torch

from sjconvert.targets.lava.formats.layout import (
    flat_order,
    from_lava,
    lava_kernel,
    lava_pair,
    lava_shape,
    nxt_to_tnx,
    tnx_to_nxt,
    to_lava,
)


def test_tnx_nxt_round_trip_numpy_and_torch():
    x = np.arange(6 * 4 * 2 * 3).reshape(6, 4, 2, 3)
    y = tnx_to_nxt(x)
    assert y.shape == (4, 2, 3, 6)
    assert y[1, 0, 2, 5] == x[5, 1, 0, 2]
    np.testing.assert_array_equal(nxt_to_tnx(y), x)
    t = torch.tensor(x)
    assert torch.equal(nxt_to_tnx(tnx_to_nxt(t)), t)
    assert tnx_to_nxt(t).shape == (4, 2, 3, 6)


def test_lava_layout_round_trips_and_flattening():
    """``[C, H, W]`` ↔ ``(W, H, C)`` and ``[C, L]`` ↔ ``(L, 1, C)``; ``flat_order`` maps a
    Lava-flattened population back to PyTorch's flattening."""
    for shape in [(3, 4, 5), (3, 7), (6,)]:
        x = np.arange(2 * int(np.prod(shape))).reshape(2, *shape)
        lava = to_lava(x)
        assert lava.shape[1:] == lava_shape(shape)
        np.testing.assert_array_equal(from_lava(lava, shape), x)
        np.testing.assert_array_equal(x.reshape(2, -1)[:, flat_order(shape)], lava.reshape(2, -1))


def test_lava_kernel_flips_and_reorders():
    """Lava's Conv convolves over ``(x, y, f)``: the emitted kernel is the PyTorch
    correlation kernel with axes reversed and both spatial axes flipped."""
    w = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5)
    k = lava_kernel(w)
    assert k.shape == (2, 5, 4, 3)
    assert k[1, 0, 0, 2] == w[1, 2, 3, 4]  # x = 0, y = 0 is the last tap of each axis
    one_d = lava_kernel(w[:, :, 0])
    assert one_d.shape == (2, 5, 1, 3) and one_d[0, 0, 0, 1] == w[0, 1, 0, 4]
    assert lava_pair((2, 3), 1) == (3, 2) and lava_pair((2,), 0) == (2, 0)
