"""The memory estimate (:mod:`sjconvert.exec.memory`): flat in T, each stateful node's
registers counted from its step program."""

from __future__ import annotations

import pytest

from sjconvert.exec.memory import estimate
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph
from sjconvert.ops import step_program

SHAPE = (4, 16, 16)
N = 8


def _one(node: ir.Node) -> Graph:
    """A direct input (the same every step) → ``node``, read out."""
    return Graph({"x": ir.Input(SHAPE, False), "s": node}, {"x": (), "s": ("x",)}, ("s",))


@pytest.mark.parametrize(
    "node", [ir.IF(1.0, None, 0.0), ir.BipolarIF(1.0, 0.5, max_spikes=2), ir.Compensate()]
)
def test_the_estimate_does_not_grow_with_T_when_one_step_is_kept(node: ir.Node) -> None:
    sizes = [estimate(_one(node), N, T, keep=(T,)) for T in (4, 64, 1024, 4096, 65536)]
    assert sizes == sorted(sizes)  # a run shorter than a block keeps fewer steps at once
    assert len(set(sizes[2:])) == 1  # beyond a block (512 steps here) nothing grows


def test_each_register_of_a_step_program_is_counted() -> None:
    per_register = N * 4 * 16 * 16 * 4  # one float32 value per element of the chunk
    short, long = ir.Delay(1), ir.Delay(8)
    extra = len(step_program(long).state) - len(step_program(short).state)
    assert extra == 7
    grown = estimate(_one(long), N, 16, (16,)) - estimate(_one(short), N, 16, (16,))
    assert grown == extra * per_register
