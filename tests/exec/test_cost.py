"""Cost per T: fan-out, synaptic operations, MACs and the energy estimate (exec/cost.py),
counted the same way by every executor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sjconvert import simulate
from sjconvert.exec import Simulator
from sjconvert.exec.arraysim import ArraySimulator
from sjconvert.exec.cost import E_AC, E_MAC, fanouts, macs, static_macs
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph


def _net() -> Graph:
    """x → conv(3×3, pad 1) → IF → conv(1×1) → SignedIF(burst 2) ─┬─ add → Readout
    └→ linear path via flatten"""
    r = np.random.default_rng(0)
    nodes = {
        "x": ir.Input((2, 5, 5)),
        "c1": ir.Conv2d(r.normal(size=(3, 2, 3, 3)), r.normal(size=3), 1, 1),
        "n1": ir.IF(1.0, None, 0.5),
        "c2": ir.Conv2d(r.normal(size=(3, 3, 1, 1)), None),
        "n2": ir.SignedIF(0.5, 0.25, max_spikes=2),
        "add": ir.Add(),
        "flat": ir.Flatten(1, -1),
        "fc": ir.Linear(r.normal(size=(4, 75)), None),
        "out": ir.Readout(),
    }
    edges = {
        "x": (),
        "c1": ("x",),
        "n1": ("c1",),
        "c2": ("n1",),
        "n2": ("c2",),
        "add": ("n2", "n1"),
        "flat": ("add",),
        "fc": ("flat",),
        "out": ("fc",),
    }
    from sjconvert.exec.shapes import with_shapes

    return with_shapes(Graph(nodes, edges, ("out",)))


def test_fanout_counts_every_weight_a_spike_drives() -> None:
    g = _net()
    f = fanouts(g)
    # n1 drives c2 (1×1 conv, 3 outputs per position) and, through the add, fc (4 weights)
    np.testing.assert_array_equal(f["n1"], np.full((3, 5, 5), 3 + 4, np.float32))
    np.testing.assert_array_equal(f["n2"], np.full((3, 5, 5), 4, np.float32))


def test_fanout_of_a_padded_convolution_counts_its_border() -> None:
    nodes = {
        "x": ir.Input((1, 4, 4)),
        "n": ir.IF(1.0, None),
        "c": ir.Conv2d(np.ones((2, 1, 3, 3)), None, 1, 1),
        "o": ir.Readout(),
    }
    from sjconvert.exec.shapes import with_shapes

    g = with_shapes(Graph(nodes, {"x": (), "n": ("x",), "c": ("n",), "o": ("c",)}, ("o",)))
    f = fanouts(g)["n"][0]
    assert f[1, 1] == 2 * 9 and f[0, 0] == 2 * 4 and f[0, 1] == 2 * 6


def test_synops_are_spikes_times_fanout_in_every_executor() -> None:
    g = _net()
    x = torch.randn(6, 2, 5, 5)
    ref = Simulator(g).run(x, T=5)
    arr = ArraySimulator(g).run(x, T=5)
    f = fanouts(g)
    spikes: dict[str, list[torch.Tensor]] = {}

    def observe(name: str, value: torch.Tensor, temporal: bool) -> None:
        if name in f:
            spikes.setdefault(name, []).append(value.clone())

    Simulator(g).run(x, T=5, observe=observe)
    for n in f:
        s = torch.cat(spikes[n]).abs()
        want = (s * torch.from_numpy(f[n])).reshape(5, 6, -1).sum(2).double().cumsum(0)
        torch.testing.assert_close(ref.synops[n], want)
        torch.testing.assert_close(arr.synops[n], want)
        torch.testing.assert_close(ref.spikes_at[n], s.reshape(5, 6, -1).sum(2).double().cumsum(0))
    assert torch.cat(spikes["n2"]).abs().max() > 1  # bursts: several spikes in one step


def test_macs_count_each_synapse_once_and_the_first_layer_as_static() -> None:
    g = _net()
    assert macs(g) == 3 * 25 * 2 * 9 + 3 * 25 * 3 + 4 * 75
    assert static_macs(g) == 3 * 25 * 2 * 9


def test_simulate_reports_cost_per_T() -> None:
    g = _net()
    x, y = torch.randn(8, 2, 5, 5), torch.randint(0, 4, (8,))
    res = simulate(g, [(x, y)], T=[1, 4, 8])
    cost = res.cost
    assert cost is not None
    assert cost.spikes[1] < cost.spikes[4] < cost.spikes[8]
    assert cost.energy(8) == pytest.approx(E_AC * cost.synops[8] + E_MAC * cost.macs_static)
    assert cost.ann_energy == pytest.approx(E_MAC * macs(g))
    d = res.to_dict()["cost_per_sample"]
    assert set(d["synops"]) == {"1", "4", "8"} and d["pj_per_accumulate"] == pytest.approx(0.9)
