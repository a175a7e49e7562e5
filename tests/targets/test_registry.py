"""Emitter registries: one per target, registration rules, whole-graph checks, and no
registration side effects between targets."""

from __future__ import annotations

import pytest

from sjconvert.errors import UnsupportedOpError
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph
from sjconvert.targets import Registry, available_targets, load_target


@pytest.fixture(scope="module")
def digits_snn() -> Graph:
    from sjconvert import ann2snn
    from tests.conftest import load_sample

    model, _, calib = load_sample("digits")
    return ann2snn(model, [calib["x"][:64]], neuron="if").snn


def test_register_twice_is_an_error() -> None:
    reg: Registry[None, None] = Registry("scratch")
    reg.register(ir.Linear)(lambda *a: None)
    with pytest.raises(ValueError, match="registered"):
        reg.register(ir.Linear)(lambda *a: None)


def test_register_what_is_not_a_node_class_is_an_error() -> None:
    reg: Registry[None, None] = Registry("scratch")
    with pytest.raises(TypeError, match="not an IR node class"):
        reg.register("Linear")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one node class"):
        reg.register()


def test_check_reports_every_unsupported_node(digits_snn) -> None:
    reg: Registry[None, None] = Registry("scratch")
    reg.register(ir.Input, ir.Linear)(lambda *a: None)
    reg.register(ir.IF, accepts=lambda n: "soft reset only")(lambda *a: None)
    with pytest.raises(UnsupportedOpError) as info:
        reg.check(digits_snn)
    msg = str(info.value)
    unsupported = {type(n).__name__ for _, n in digits_snn} - {"Input", "Linear", "IF"}
    for op in unsupported:
        assert f"({op}): no scratch emitter" in msg
    assert "(IF): soft reset only" in msg
    assert msg.count("(IF)") == sum(isinstance(n, ir.IF) for _, n in digits_snn)
    assert "\n" not in msg


def test_each_target_owns_its_registry() -> None:
    tables = {t: load_target(t) for t in available_targets()}
    assert set(tables) == {"cupy", "lava", "lynxi", "nir", "onnx"}
    assert len({id(t) for t in tables.values()}) == len(tables)
    assert all(t.target == name for name, t in tables.items())


def test_unknown_target_names_the_known_ones() -> None:
    with pytest.raises(UnsupportedOpError, match="unknown target 'nope'"):
        load_target("nope")
