"""A SpikingJelly-trained-style SNN on Loihi 2 (issue 19): ``layer.Conv2d → IFNode →
AvgPool → Flatten → Linear → LIFNode → Linear → ParametricLIFNode``, multi-step, hard reset,
captured by ``sjconvert.capture``, maps to CUBA neurons without refusal and reports its
quantisation error per layer. With weights on the 8-bit grid of each layer's threshold the
IF layer spikes exactly as SpikingJelly's and the leaky layers closely (Loihi truncates each
decay to an integer); ``tests/lava`` proves Lava equals our fixed point bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from spikingjelly.activation_based import functional, layer, neuron
from torch import nn

from sjconvert.frontends import capture
from sjconvert.targets.lava.build import to_loihi
from sjconvert.targets.lava.fixed_point.simulator import simulate
from sjconvert.targets.lava.formats.layout import from_lava

pytestmark = pytest.mark.interop
T = 24


def on_grid(w: torch.Tensor, q: int, unit: float) -> torch.Tensor:
    """``w`` rounded to multiples of ``unit / q`` with the largest at ±127 steps: what an
    8-bit mantissa holds exactly when the threshold is ``q`` state units (``unit``: the
    threshold span times τ for decay_input, over the input scale)."""
    j = torch.round(w / w.abs().max() * 127)
    return j * unit / q


def sj_net(decay_input: bool) -> nn.Module:
    torch.manual_seed(4)
    net = nn.Sequential(
        layer.Conv2d(1, 6, 3, padding=1, bias=False),
        neuron.IFNode(v_reset=0.0),
        layer.AvgPool2d(2),
        layer.Flatten(),
        layer.Linear(6 * 4 * 4, 16, bias=False),
        neuron.LIFNode(tau=4.0, decay_input=decay_input, v_reset=0.0),
        layer.Linear(16, 10, bias=False),
        neuron.ParametricLIFNode(init_tau=3.0, decay_input=decay_input, v_reset=-0.1),
    )
    tau = 4.0 if decay_input else 1.0
    plif = 1.1 * (3.0 if decay_input else 1.0)  # threshold span 1 − (−0.1), times τ
    with torch.no_grad():
        net[0].weight.copy_(on_grid(net[0].weight + 0.05, 32, 1.0))  # exact in float32
        net[4].weight.copy_(on_grid(net[4].weight, 128, tau))
        net[6].weight.copy_(on_grid(net[6].weight, 48, plif))
    functional.set_step_mode(net, "m")
    return net


@pytest.mark.parametrize("decay_input", [True, False])
def test_captured_lif_plif_snn_maps_to_cuba(decay_input):
    net = sj_net(decay_input)
    x = (torch.rand(T, 8, 1, 8, 8, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    record = {}
    for i in (1, 5, 7):
        net[i].register_forward_hook(lambda m, a, out, i=i: record.__setitem__(i, out))
    graph = capture(net, x)
    functional.reset_net(net)
    with torch.no_grad():  # float64: float32 convolutions round sums of grid weights
        net.double()(x.double())
    exp = to_loihi(graph, T + 3, reset="exact")
    assert exp.net.model == "cuba" and exp.format == "netx"
    facts = exp.net.facts
    names = list(facts)
    assert [facts[n]["neuron"] for n in names] == ["IF", "LIF", "LIF"]
    assert facts[names[1]]["dv"] == 1024 and facts[names[2]]["dv"] == round(4096 / 3)
    assert all(f["error"]["weight"] < 1e-6 for f in facts.values())  # weights on the grid
    assert facts[names[2]]["error"]["decay"] < 1e-3  # reported: 4096/3 is not an integer
    pg = exp.graph
    ours = simulate(pg, pg.schedule(pg.encode(x.numpy()), T + 3, sequence=True)).spikes
    agree = []
    for hop, (name, i) in enumerate(zip(names, (1, 5, 7), strict=True), start=1):
        mine = from_lava(ours[name], exp.net.shapes[name], lead=2)[hop : hop + T]
        theirs = record[i].numpy()
        assert mine.shape == theirs.shape and 0.02 < theirs.mean() < 0.9, (name, theirs.mean())
        agree.append(float(np.mean(mine == theirs)))
    assert agree[0] == 1.0 and min(agree) > 0.95, agree
