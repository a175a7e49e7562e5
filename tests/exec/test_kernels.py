"""The shared torch kernels: a convolution whose kernel overhangs its input drops the taps
that only meet padding, and computes what the full kernel computes."""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F

from sjconvert.ir import nodes as ir
from sjconvert.ops import entry, prepare


def test_overhanging_convolutions_are_cropped_and_exact() -> None:
    r = np.random.default_rng(0)
    cropped = 0
    for size, k, pad, stride, groups in itertools.product(
        (1, 2, 3, 5), (1, 3, 5, 7), (0, 1, 2, 3), (1, 2), (1, 4)
    ):
        if size + 2 * pad < k:
            continue
        # values on a dyadic grid: every sum is exact, in any order
        w = (r.integers(-8, 9, (4, 4 // groups, k, k)) / 8).astype(np.float32)
        b = (r.integers(-8, 9, 4) / 8).astype(np.float32)
        node = ir.Conv2d(weight=w, bias=b, stride=stride, padding=pad, groups=groups)
        p = prepare(node, [(4, size, size)])
        x = torch.tensor(r.integers(-8, 9, (3, 4, size, size)) / 8, dtype=torch.float32)
        want = F.conv2d(x, torch.tensor(w), torch.tensor(b), stride, pad, 1, groups)
        assert torch.equal(entry(node).fn(p, [x]), want)
        cropped += p["weight"].shape[-1] < k
    assert cropped > 20


def test_a_kernel_on_one_pixel_keeps_its_centre_tap() -> None:
    w = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
    node = ir.Conv2d(weight=w, bias=None, stride=1, padding=2, groups=1)
    p = prepare(node, [(1, 1, 1)])
    assert p["weight"].shape == (1, 1, 1, 1) and float(p["weight"]) == 12.0
    assert tuple(p["padding"]) == (0, 0)
