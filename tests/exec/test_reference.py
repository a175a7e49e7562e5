"""Reference multi-step simulator: neuron maths, static-input shortcut, per-step outputs."""

from __future__ import annotations

import pytest
import torch

from sjconvert.errors import InputError
from sjconvert.exec import Simulator, run
from sjconvert.exec.arrays import run_node
from sjconvert.ir import Graph
from sjconvert.ir import nodes as ir
from tests.conftest import chain


def _chain(*layers: ir.Node, shape: tuple[int, ...] = (5,)) -> Graph:
    return chain(shape, *layers)


def test_if_soft_reset_rate_matches_theory() -> None:
    z = torch.linspace(0, 1, 41).reshape(1, -1)
    T = 100
    spikes, state = run_node(ir.IF(1.0, None), z, T, static=True)
    v = state["v"]
    rate = spikes.mean(0)
    # r = z - (V_T - V_0) / (T V_th), so |r - z| <= 1/T
    torch.testing.assert_close(rate, (z - v / T).reshape(rate.shape), rtol=0, atol=1e-5)
    assert (rate - z).abs().max() <= 1.0 / T + 1e-6


def test_hard_reset_and_threshold_equality_fire() -> None:
    x = torch.tensor([[0.5], [0.5], [0.5], [0.25]]).unsqueeze(1)  # [T=4, N=1, 1]
    s, state = run_node(ir.IF(1.0, -0.5, -0.5), x.squeeze(1), 4, static=False)
    v = state["v"]
    # V: -0.5 → 0.0 → 0.5 → 1.0 (fires at equality, resets to -0.5) → -0.25
    assert s.flatten().tolist() == [0.0, 0.0, 1.0, 0.0]
    assert v.item() == pytest.approx(-0.25)


def test_lif_leak_decay_input() -> None:
    x = torch.ones(3, 1)
    s, state = run_node(ir.LIF(2.0, 10.0, 0.0, True), x, 3, static=False)
    assert s.sum() == 0 and state["v"].item() == pytest.approx(0.875)  # 0.5, 0.75, 0.875
    s, state = run_node(ir.LIF(2.0, 10.0, 0.0, False), x, 3, static=False)
    assert state["v"].item() == pytest.approx(1.75)  # 1, 1.5, 1.75


def test_per_channel_threshold() -> None:
    node = ir.IF(v_threshold=[0.5, 1.0, 2.0])
    x = torch.ones(1, 3, 2)
    s, _ = run_node(node, x, 4, static=True)
    assert s.sum(0)[0, :, 0].tolist() == [4.0, 4.0, 2.0]


def _net() -> Graph:
    g = torch.Generator().manual_seed(0)
    w1 = torch.randn(8, 5, generator=g).numpy()
    w2 = torch.randn(3, 8, generator=g).numpy()
    return _chain(
        ir.Linear(w1, None),
        ir.IF(0.7, None),
        ir.Linear(w2, torch.ones(3).numpy()),
        ir.LIF(3.0, 0.5, 0.0, True),
        ir.Scale(2.0),
        ir.Readout(),
    )


def test_static_input_equals_repeated_sequence_exactly() -> None:
    x = torch.rand(6, 5)
    static = run(_net(), x, T=16)
    seq = run(_net(), x.unsqueeze(0).expand(16, 6, 5).clone(), T=16, sequence=True)
    assert torch.equal(static.output, seq.output) and static.spikes == seq.spikes


def test_one_run_gives_every_shorter_T_and_is_deterministic() -> None:
    x = torch.rand(6, 5)
    long = run(_net(), x, T=32)
    short = run(_net(), x, T=8)
    assert torch.equal(long.output[:8], short.output)
    assert torch.equal(long.output, run(_net(), x, T=32).output)
    assert long.output.shape == (32, 6, 3)


def test_readout_is_running_mean_of_input_current() -> None:
    g = _chain(ir.Linear(torch.eye(5).numpy(), None), ir.IF(1.0, None), ir.Readout())
    x = torch.full((1, 5), 0.5)
    out = run(g, x, T=4).output[:, 0, 0]  # spikes 0,1,0,1 → means 0, .5, 1/3, .5
    torch.testing.assert_close(out, torch.tensor([0.0, 0.5, 1 / 3, 0.5]))


def test_input_shape_is_checked() -> None:
    with pytest.raises(InputError, match=r"expected shape \[N, 5\], got \[2, 4\]"):
        run(_net(), torch.rand(2, 4), T=4)
    with pytest.raises(InputError, match="T must be"):
        run(_net(), torch.rand(2, 5), T=0)


def test_temporal_values_are_folded_through_synapses() -> None:
    conv = ir.Conv2d(torch.randn(2, 1, 3, 3).numpy(), None, 1, 1)
    g = _chain(
        ir.IF(0.3, None),
        conv,
        ir.IF(0.5, 0.0),
        ir.AvgPool2d(2, 2, 0),
        ir.Flatten(),
        shape=(1, 4, 4),
    )
    x = torch.rand(3, 1, 4, 4)
    res = Simulator(g).run(x, T=5)
    # recompute the layers step by step to check the folding over [T·N]
    s1, _ = run_node(g.nodes["n0"], x, 5, static=True)
    c = torch.nn.functional.conv2d(s1.reshape(15, 1, 4, 4), torch.tensor(conv.weight), padding=1)
    s2, _ = run_node(g.nodes["n2"], c.reshape(5, 3, 2, 4, 4), 5, static=False)
    y = torch.nn.functional.avg_pool2d(s2.reshape(15, 2, 4, 4), 2).reshape(5, 3, -1)
    want = torch.cumsum(y, 0) / torch.arange(1, 6).reshape(5, 1, 1)
    assert torch.equal(res.output, want)


@pytest.mark.parametrize("sequence", [False, True])
def test_time_blocks_do_not_change_the_result(sequence: bool) -> None:
    x = torch.rand(6, 5)
    if sequence:
        x = (torch.rand(20, 6, 5) > 0.5).float()
    whole = Simulator(_net()).run(x, T=20, sequence=sequence, block=20)
    for block in (1, 3, 7):
        part = Simulator(_net()).run(x, T=20, sequence=sequence, block=block)
        assert torch.equal(part.output, whole.output) and part.spikes == whole.spikes


def test_readout_must_be_an_output() -> None:
    from sjconvert.errors import UnsupportedOpError

    with pytest.raises(UnsupportedOpError, match="must be graph outputs"):
        Simulator(_chain(ir.Readout(), ir.ReLU()))
