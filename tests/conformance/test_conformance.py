"""The conformance suite: every node class × every executor, bit for bit.

For each IR node class (generated from the registry, :mod:`.cases`), small graphs around one
node of that class run in the torch reference and in every other executor
(:mod:`.executors`); each must report the reference's running means, spike trains and
event counts with the same bits. A new op gets its cases from its dataclass fields; an
executor that restates an op instead of running its one definition and diverges fails here.
The CuPy target's generated kernels run in ``test_conformance_cupy.py`` (cupy group).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sjconvert.errors import UnsupportedOpError
from sjconvert.exec.shapes import infer_shapes
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph

from .cases import Case, cases, node_classes
from .executors import EXECUTORS, OWN_KERNELS, differences, reference

CLASSES = node_classes()
SETTINGS = settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)


def assert_conform(case: Case, names: list[str]) -> None:
    """Every executor in ``names`` reports what the reference reports, or refuses the graph
    up front (:class:`UnsupportedOpError`, as its target's checks document) naming a node.
    An executor with kernels of its own may round a transcendental op (Softmax) apart."""
    ref = reference(case)
    loose = any(node.transcendental for _, node in case.graph)
    found = []
    for name in names:
        try:
            run = EXECUTORS[name](case)
        except UnsupportedOpError as exc:
            assert "'node'" in str(exc), f"{name} refused {case} without naming the node: {exc}"
            continue
        diff = differences(ref, run, case.graph, loose and name in OWN_KERNELS)
        found += [f"{name}: {d}" for d in diff]
    assert not found, f"{case}: " + "; ".join(found)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@SETTINGS
@given(data=st.data())
def test_array_and_module_executors_agree_bit_for_bit(cls, data) -> None:
    names = ["op-by-op", "chains", "chains-op-by-op", "chains-numpy", "numpy", "module"]
    assert_conform(data.draw(cases(cls)), [*names, "lynxi"])


@pytest.mark.onnx
@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@settings(SETTINGS, max_examples=3)
@given(data=st.data())
def test_onnx_runtime_agrees_bit_for_bit(cls, data) -> None:
    assert_conform(data.draw(cases(cls)), ["onnx-unrolled", "onnx-step"])


@pytest.mark.onnx
@pytest.mark.parametrize("size, kernel, padding", [(2, 7, 3), (1, 5, 2), (3, 5, 2)])
def test_a_kernel_overhanging_its_input_conforms(size, kernel, padding) -> None:
    """A depthwise convolution larger than its map (ConvNeXt's 7×7 on 2×2, EfficientNet's
    5×5 on 1×1): the taps that only meet padding are dropped where it is prepared, and every
    executor (ONNX Runtime too: the exported node keeps the kernel it was prepared with)
    reports what the reference reports."""
    r = np.random.default_rng(size)
    grid = lambda *shape: (r.integers(-8, 9, shape) / 8).astype(np.float32)  # noqa: E731
    conv = ir.Conv2d(grid(4, 1, kernel, kernel), grid(4), stride=1, padding=padding, groups=4)
    nodes = {"x": ir.Input((4, size, size), False), "s": ir.IF(0.5, None, 0.0), "c": conv}
    edges = {"x": (), "s": ("x",), "c": ("s",)}
    graph = Graph(nodes, edges, ("c",))
    graph = Graph(nodes, edges, ("c",), infer_shapes(graph))
    case = Case(graph, grid(3, 4, size, size), 4, False)
    assert_conform(case, [n for n in EXECUTORS if n != "cupy-host"])


@pytest.mark.onnx
@pytest.mark.parametrize("shift", [3, -5, 2])
def test_a_roll_past_its_axis_conforms(shift) -> None:
    """``roll`` by more than its axis (hypothesis found ``shifts=3`` on an axis of 2): torch
    reduces the shift modulo the axis, and so must the exported graph's Slice + Concat."""
    roll = ir.Roll(shifts=(shift,), dims=(1,))
    nodes = {"x": ir.Input((2, 3), False), "s": ir.IF(0.5, None, 0.0), "r": roll}
    edges = {"x": (), "s": ("x",), "r": ("s",)}
    graph = Graph(nodes, edges, ("r",))
    graph = Graph(nodes, edges, ("r",), infer_shapes(graph))
    x = (np.arange(12, dtype=np.float32).reshape(2, 2, 3) - 5) / 4
    case = Case(graph, x, 2, False)
    assert_conform(case, [n for n in EXECUTORS if n != "cupy-host"])
