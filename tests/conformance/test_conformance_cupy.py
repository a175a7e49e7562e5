"""The CuPy target in the conformance suite (cupy group): for every node class, its graphs
run through the target's emitters, with every stateful layer as the generated CUDA kernel
(compiled for the host by :mod:`tests.targets.host_kernels`, NumPy arrays standing in for
CuPy's), bit for bit against the reference; and every generated kernel compiles with
NVRTC, as CuPy would compile it on a GPU."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sjconvert.ops import step_program
from sjconvert.targets.cupy.kernels import kernel_name, kernel_source
from tests.targets.host_kernels import HAS_COMPILER
from tests.targets.test_cupy_neurons import _nvrtc_or_skip

from .cases import cases, node_classes
from .test_conformance import SETTINGS, assert_conform

pytestmark = [
    pytest.mark.cupy,
    pytest.mark.skipif(not HAS_COMPILER, reason="needs a C++ compiler (g++) for the host"),
]
CLASSES = node_classes()
STATEFUL = [c for c in CLASSES if c.stateful]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@settings(SETTINGS, max_examples=4)
@given(data=st.data())
def test_cupy_code_path_agrees_bit_for_bit(cls, data) -> None:
    assert_conform(data.draw(cases(cls)), ["cupy-host"])


@pytest.mark.parametrize("cls", STATEFUL, ids=lambda c: c.__name__)
@settings(SETTINGS, max_examples=3)
@given(data=st.data())
def test_generated_kernels_compile_with_nvrtc(cls, data) -> None:
    _nvrtc_or_skip()
    from sjconvert.targets.cupy.device import nvrtc_ptx

    case = data.draw(cases(cls))
    for dtype in ("float32", "float16"):
        prog = step_program(case.graph.nodes["node"])
        assert f".entry {kernel_name(prog, dtype)}" in nvrtc_ptx(kernel_source(prog, dtype))
