"""The convolution Lava's ``Conv`` models compute with in our runs (:mod:`exact_conv`) is bit
for bit Lava's own ``conv_scipy``, on every kind of convolution the lowering emits (kernel,
stride, padding, dilation, groups) and on 24-bit graded messages."""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sjconvert.targets.lava.running import exact_conv

pytestmark = pytest.mark.lava


@pytest.fixture(scope="module")
def utils() -> ModuleType:
    """Lava's convolution module, imported where the test runs (the Lava group; the other
    groups deselect these tests by their mark)."""
    return importlib.import_module("lava.proc.conv.utils")


@st.composite
def convolutions(draw: st.DrawFn) -> tuple:
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    c, k = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    size = [draw(st.integers(d * (kk - 1) + 1, 9)) for d, kk in zip(dilation, kernel, strict=True)]
    seed = draw(st.integers(0, 2**31))
    return groups, c, k, kernel, stride, padding, dilation, size, seed


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(convolutions())
def test_exact_conv_is_lavas_conv(utils: ModuleType, case: tuple) -> None:
    groups, c, k, kernel, stride, padding, dilation, size, seed = case
    rng = np.random.default_rng(seed)
    # 24-bit messages, capped so that no sum of a fan-in overflows Lava's int32 (its float
    # result cast to int32 is undefined past that, and numpy warns)
    bound = min(2**23, 2**31 // (128 * (c // groups) * kernel[0] * kernel[1]))
    x = rng.integers(-bound, bound, (*size, c)) * (rng.random((*size, c)) < 0.4)
    x = x.astype(np.int32)
    w = rng.integers(-128, 128, (k, *kernel, c // groups)).astype(np.int32)
    args = (np.array(kernel), np.array(stride), np.array(padding), np.array(dilation), groups)
    theirs = utils.conv_scipy(x, w, *args).astype(w.dtype)
    ours = exact_conv.conv(x, w, *args)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_silent_input_gives_zeros_of_lavas_shape(utils: ModuleType) -> None:
    x = np.zeros((7, 5, 4), np.int32)
    w = np.ones((6, 3, 3, 2), np.int32)
    args = (np.array((3, 3)), np.array((2, 1)), np.array((1, 0)), np.array((1, 1)), 2)
    ours = exact_conv.conv(x, w, *args)
    assert ours.shape == utils.conv_scipy(x, w, *args).shape and not ours.any()
