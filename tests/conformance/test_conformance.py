"""The conformance suite: every node class × every executor, bit for bit.

For each IR node class (generated from the registry, :mod:`.cases`), small graphs around one
node of that class run in the torch reference and in every other executor
(:mod:`.executors`); each must report the reference's running means, spike trains and
event counts with the same bits. A new op gets its cases from its dataclass fields; an
executor that restates an op instead of running its one definition and diverges fails here.
The CuPy target's generated kernels run in ``test_conformance_cupy.py`` (cupy group).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sjconvert.errors import UnsupportedOpError

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
