"""Every frontend builder table is a :class:`~sjconvert.frontends.registry.Builders`, which
refuses a key registered twice (none replaces another silently) and which capture reads."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sjconvert.frontends import builders, functions, onnx_ops
from sjconvert.frontends.capture import capture
from sjconvert.frontends.registry import Builders
from sjconvert.ir import nodes as ir

TABLES = {
    "MODULE_BUILDERS": builders.MODULE_BUILDERS,
    "NAMED_BUILDERS": builders.NAMED_BUILDERS,
    "FUNCTION_BUILDERS": functions.FUNCTION_BUILDERS,
    "NAMED_FUNCTIONS": functions.NAMED_FUNCTIONS,
    "OP_BUILDERS": onnx_ops.OP_BUILDERS,
}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_table_is_one_registry_kind(name: str) -> None:
    assert isinstance(TABLES[name], Builders) and len(TABLES[name]) > 0


@pytest.mark.parametrize(
    ("table", "key"),
    [
        (builders.MODULE_BUILDERS, nn.Conv2d),
        (builders.NAMED_BUILDERS, "VoltageScaler"),
        (functions.FUNCTION_BUILDERS, F.relu),
        (functions.FUNCTION_BUILDERS, "relu"),
        (onnx_ops.OP_BUILDERS, "Conv"),
    ],
)
def test_a_second_builder_for_a_key_is_refused(table: Builders, key: object) -> None:
    before = table[key]
    with pytest.raises(ValueError, match="registered already"):
        table.add((key,), lambda *a: None)
    assert table[key] is before  # the refused registration changed nothing


def test_a_refused_registration_registers_none_of_its_keys() -> None:
    table: Builders[str, int] = Builders("thing")
    table.add(("a",), 1)
    with pytest.raises(ValueError, match="thing 'a'"):
        table.add(("b", "a"), 2)
    assert "b" not in table and table["a"] == 1


def test_aliases_in_one_registration_are_one_key() -> None:
    table: Builders[object, int] = Builders("function")
    table.add((torch.relu_, F.relu_), 1)  # the same function under two names
    assert len(table) == 1


def test_unhashable_lookups_find_nothing_and_unhashable_keys_are_refused() -> None:
    table: Builders[object, int] = Builders("function")
    assert table.get([1]) is None and [1] not in table
    with pytest.raises(ValueError, match="unhashable"):
        table.add(([1],), 1)


def test_a_registered_module_builder_is_used_by_capture() -> None:
    """A caller's own module class, registered with the decorator, is captured with it and
    removed again."""

    class Doubler(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 2 * x

    @builders.MODULE_BUILDERS.register(Doubler)
    def _doubler(m: nn.Module, ctx: builders.Ctx) -> ir.Node:
        return ir.Scale(2.0)

    try:
        model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3), Doubler())
        graph = capture(model, torch.randn(2, 4))
        assert "Scale" in [node.op for _, node in graph]
    finally:
        builders.MODULE_BUILDERS.remove(Doubler)
    assert Doubler not in builders.MODULE_BUILDERS
