"""Uniform registers (a step counter) computed once per step and sample by the compiled
kernel (sjconvert.ops.StepProgram.uniform, sjconvert.exec.fused): the same bits and the
same state as op by op, over time blocks and samples cut into feature tiles."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sjconvert.exec import fused
from sjconvert.exec.arrays import Arrays, Stateful
from sjconvert.ir import nodes as ir
from sjconvert.ops import Op, StepProgram, chain, elementwise_program, step_program
from tests.conformance.executors import unfused


def test_the_step_counters_are_uniform_and_nothing_else_is() -> None:
    assert step_program(ir.RunningMean()).uniform == ("c",)
    assert step_program(ir.Compensate()).uniform == ("c",)
    assert step_program(ir.BipolarIF(0.5)).uniform == ()
    assert step_program(ir.IF()).uniform == ()
    members = [ir.Scale(np.float32(0.3)), ir.Compensate(), ir.BipolarIF(0.5)]
    assert chain([elementwise_program(m) for m in members]).uniform == ("m1_c",)


def test_a_counter_read_before_it_is_written_is_not_hoisted() -> None:
    ops = (Op("y", "mul", ("x", "c")), Op("c", "add", ("c", "ONE")))
    late = StepProgram(ops, ("c",), "y", {"c": 0.0}, {"ONE": 1.0}, {}, spiking=False)
    assert late.uniform == ()
    per_channel = StepProgram(
        ops[::-1], ("c",), "y", {"c": np.float32([0.0, 1.0])}, {"ONE": 1.0}, {}, False
    )
    assert per_channel.uniform == ()


def _runs(node: ir.Node, program: StepProgram, x: torch.Tensor, blocks: list[int]) -> tuple:
    """Outputs and final state over consecutive time blocks of ``blocks`` steps."""
    runner = Stateful(node, Arrays(torch, torch.float32), program=program)
    state, ys, t0 = None, [], 0
    for steps in blocks:
        y, state = runner(x[t0 : t0 + steps], steps, False, state)
        ys.append(y)
        t0 += steps
    return torch.cat(ys), state


@pytest.mark.skipif(fused.compiler() is None, reason="needs a C compiler (the fused kernel)")
@pytest.mark.parametrize("features", [7, fused.TILE + 5])  # whole samples; feature tiles
def test_the_compiled_kernel_hoists_counters_bit_for_bit(features: int) -> None:
    members = [ir.Scale(np.float32(0.7)), ir.Compensate(), ir.BipolarIF(0.3, max_spikes=4)]
    program = chain([elementwise_program(m) for m in members])
    x = torch.randn((9, 3, features), generator=torch.Generator().manual_seed(1))
    for node, prog in ((members[-1], program), (ir.RunningMean(), None)):
        prog = prog or step_program(node)
        got, got_state = _runs(node, prog, x, [4, 5])
        with unfused():
            want, want_state = _runs(node, prog, x, [4, 5])
        assert torch.equal(got, want)
        assert got_state.keys() == want_state.keys()
        assert all(torch.equal(got_state[k], want_state[k]) for k in got_state)
