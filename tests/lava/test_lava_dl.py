"""``to_lava_dl``: slayer CUBA blocks built from a LoihiNet chain — IF, LIF and ParametricLIF
layers included — compute, in their own fixed-point forward, exactly the spikes of our
simulator and of Lava."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sjconvert.errors import EmitError
from sjconvert.ir import nodes as ir
from sjconvert.targets.lava.build import to_loihi
from sjconvert.targets.lava.fixed_point.simulator import simulate
from sjconvert.targets.lava.formats.emit_procgraph import procgraph
from sjconvert.targets.lava.formats.lava_dl import run_tnx, to_lava_dl
from sjconvert.targets.lava.formats.layout import from_lava
from sjconvert.targets.lava.network import LoihiNet, Neuron, Synapse
from tests.conftest import chain
from tests.lava.parity import export_parity
from tests.targets.lava_graphs import conv_dense_net

pytestmark = pytest.mark.lava


def _blocks_match(net: LoihiNet, x: np.ndarray, steps: int) -> dict[str, np.ndarray]:
    """Every block's spikes equal the fixed-point simulator's; returns ours (PyTorch
    layout, ``[T, N, ...]``)."""
    pg = procgraph(net, steps, netx=True)
    xs = pg.schedule(x, steps)
    ours = {k: from_lava(v, net.shapes[k], lead=2) for k, v in simulate(pg, xs).spikes.items()}
    tnx = torch.tensor(from_lava(xs, net.input_shape, lead=2), dtype=torch.float32)
    module = to_lava_dl(net)
    layers = [k for k, b in enumerate(module) if type(b).__name__ != "Flatten"]
    with torch.no_grad():
        for (name, mine), k in zip(ours.items(), layers, strict=True):
            y = run_tnx(module[: k + 1], tnx).numpy()
            np.testing.assert_array_equal(y.reshape(mine.shape), mine, err_msg=name)
    return ours


def test_blocks_match_fixed_point_and_lava(tmp_path):
    r = np.random.default_rng(0)
    net = conv_dense_net(r, bias=False)
    ours = _blocks_match(net, r.integers(0, 30, (3, 2, 6, 5)), 12)
    assert 0 < ours["c"].mean() < 0.8 and ours["d"].any()


@pytest.mark.parametrize("decay", [None, 0.2])
def test_lif_blocks_match_fixed_point_and_lava(decay, tmp_path):
    """LIF (τ = 3) and ParametricLIF (decay 0.2) layers, no bias: slayer's CUBA neuron with
    the voltage decay equals Lava's LIF."""
    r = np.random.default_rng(2)
    g = chain(
        (12,),
        ir.Linear(r.normal(0.3, 0.5, (10, 12))),
        ir.LIF(3.0 if decay is None else 5.0, 1.0, 0.0, False, decay=decay),
        ir.Linear(r.normal(0.3, 0.5, (6, 10))),
        ir.LIF(3.0 if decay is None else 5.0, 1.0, 0.0, False, decay=decay),
    )
    exp = to_loihi(g, 20, model="cuba")
    assert exp.net.neurons["n1"].dv == (1365 if decay is None else 819)
    x = (r.random((4, 12)) < 0.5).astype(np.float32)
    ours = _blocks_match(exp.net, exp.graph.encode(x), 20)
    assert ours["n1"].any() and ours["n3"].any()
    export_parity(exp, exp.graph.encode(x[:2]), tmp_path)


def test_bias_is_refused_by_layer_name():
    r = np.random.default_rng(1)
    syn = Synapse("fc1", "x", "o", "dense", r.integers(-9, 9, (3, 4)))
    neuron = Neuron("cuba", vth=10, bias=np.array([1, 0, 2]))
    net = LoihiNet("x", (4,), 1.0, {"o": (3,)}, {"o": neuron}, (syn,), "o")
    with pytest.raises(EmitError, match=r"o.*bias"):
        to_lava_dl(net)
