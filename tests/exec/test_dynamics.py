"""Reference simulation of CubaLIF, LI, Threshold and Delay against hand-computed steps."""

from __future__ import annotations

import numpy as np
import torch

from sjconvert.exec import Simulator
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph


def one(node: ir.Node, shape: tuple[int, ...] = (1,)) -> Simulator:
    return Simulator(Graph({"x": ir.Input(shape), "n": node}, {"x": (), "n": ("x",)}, ("n",)))


def steps(prog: Simulator, x: torch.Tensor, T: int, block: int | None = None) -> torch.Tensor:
    mean = prog.run(x, T=T, block=block).output
    total = mean * torch.arange(1, T + 1).reshape(-1, *[1] * (mean.ndim - 1))
    return torch.diff(total, dim=0, prepend=torch.zeros_like(total[:1]))


def test_cuba_lif_follows_its_equations() -> None:
    node = ir.CubaLIF(0.5, 0.5, 1.0, 0.0, 0.0)
    got = steps(one(node), torch.tensor([[0.5]]), T=4).round()
    # I: .5, .75, .875, .9375; V: .5, 1.0 (spike, reset), .875, 1.375 (spike)
    assert got.flatten().tolist() == [0.0, 1.0, 0.0, 1.0]


def test_li_output_is_its_membrane() -> None:
    got = steps(one(ir.LI(2.0, 0.0)), torch.tensor([[1.0]]), T=3)
    torch.testing.assert_close(got.flatten(), torch.tensor([0.5, 0.75, 0.875]))


def test_threshold_is_a_per_channel_step() -> None:
    node = ir.Threshold(np.array([0.0, 0.5], np.float32))
    out = Simulator(Graph({"x": ir.Input((2,)), "n": node}, {"x": (), "n": ("x",)}, ("n",))).rate(
        torch.tensor([[0.0, 0.4], [-0.1, 0.5]])
    )["n"]
    assert out.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_delay_shifts_by_whole_steps_across_time_blocks() -> None:
    x = torch.arange(1.0, 9.0).reshape(8, 1, 1)
    prog = one(ir.Delay(3))
    for block in (2, 8):
        mean = prog.run(x, T=8, sequence=True, block=block).output
        total = mean * torch.arange(1, 9).reshape(-1, 1, 1)
        got = torch.diff(total, dim=0, prepend=torch.zeros_like(total[:1])).round()
        assert got.flatten().tolist() == [0, 0, 0, 1, 2, 3, 4, 5]
