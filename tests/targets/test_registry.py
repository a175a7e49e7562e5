"""The emitter registry: registration rules and whole-graph checks."""

from __future__ import annotations

import pytest

from sjconvert.errors import UnsupportedOpError
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph
from sjconvert.targets import registry


@pytest.fixture
def scratch_target():
    name = "scratch_test_target"
    yield name
    registry.EMITTERS.pop(name, None)


@pytest.fixture(scope="module")
def digits_snn() -> Graph:
    from sjconvert import ann2snn
    from tests.conftest import load_sample

    model, _, calib = load_sample("digits")
    return ann2snn(model, [calib["x"][:64]]).snn


def test_register_twice_is_an_error(scratch_target):
    registry.register(scratch_target, "Linear")(lambda *a: None)
    with pytest.raises(ValueError, match="already registered"):
        registry.register(scratch_target, "Linear")(lambda *a: None)


def test_register_unknown_op_is_an_error(scratch_target):
    with pytest.raises(ValueError, match="unknown IR ops"):
        registry.register(scratch_target, "Conv3d")


def test_check_reports_every_unsupported_node(scratch_target, digits_snn):
    registry.register(scratch_target, "Input", "Linear")(lambda *a: None)
    registry.register(scratch_target, "IF", accepts=lambda n: "soft reset only")(lambda *a: None)
    with pytest.raises(UnsupportedOpError) as info:
        registry.check(digits_snn, scratch_target)
    msg = str(info.value)
    unsupported = {type(n).__name__ for _, n in digits_snn} - {"Input", "Linear", "IF"}
    for op in unsupported:
        assert f"({op}): no {scratch_target} emitter" in msg
    assert "(IF): soft reset only" in msg
    assert msg.count("(IF)") == sum(isinstance(n, ir.IF) for _, n in digits_snn)


def test_unknown_target_names_the_known_ones():
    with pytest.raises(UnsupportedOpError, match="unknown target 'nope'"):
        registry.load_target("nope")
