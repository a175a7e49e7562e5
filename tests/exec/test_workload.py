"""What is spike-driven: each node's kind, the work that is not spike-driven and the share
of operations that is, in the dense limit and from measured synaptic operations; shown by
``simulate`` (per T) and ``inspect``."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sjconvert.cli.main import app
from sjconvert.exec import Simulator
from sjconvert.exec.evaluate import evaluate
from sjconvert.exec.workload import workload
from sjconvert.ir import Graph, save
from sjconvert.ir import nodes as ir
from sjconvert.passes import expectation

W = np.full((4, 4), 0.25, np.float32)


def _graph() -> Graph:
    """input → fc0 (static) → neuron → fc1 (spikes) → GELU → fc2 (dense) → readout."""
    nodes = {
        "x": ir.Input((4,)),
        "fc0": ir.Linear(W, None),
        "n": ir.BipolarIF(0.5, 0.25, max_spikes=4),
        "fc1": ir.Linear(W, None),
        "gelu": ir.GELU(),
        "fc2": ir.Linear(W, None),
        "out": ir.Readout(),
    }
    edges = {"x": (), "fc0": ("x",), "n": ("fc0",), "fc1": ("n",), "gelu": ("fc1",)}
    edges |= {"fc2": ("gelu",), "out": ("fc2",)}
    return expectation(Graph(nodes, edges, ("out",), {n: (4,) for n in nodes}))


def test_each_node_has_its_kind_and_the_work_adds_up() -> None:
    w = workload(_graph())
    assert w.kinds["fc0"] == "static" and w.kinds["fc1"] == "spike-driven"
    assert w.kinds["fc2"] == "dense" and w.kinds["gelu"] == "nonlinear"
    assert w.kinds["n"] == "routing"  # a neuron's own update is not counted
    assert (w.spike_macs, w.dense_macs, w.static_ops) == (16, 16, 16)
    assert w.evaluations == 4 * 3  # the running mean, GELU and the compensation, per value
    # dense limit after 2 steps: 32 spike-driven of 32 + 2·(16 + 12) + 16 operations
    assert w.fraction(2) == pytest.approx(32 / (32 + 56 + 16))
    assert w.fraction(2, synops=0.0) == 0.0


def test_evaluation_reports_the_measured_share_per_t() -> None:
    g = _graph()
    x = torch.randn(6, 4)
    res = evaluate(Simulator(g), [(x, torch.zeros(6, dtype=torch.long))], T=[1, 4])
    cost = res.cost
    w = workload(Simulator(g).graph)
    for t in (1, 4):
        assert cost.spike_driven(t) == pytest.approx(w.fraction(t, cost.synops[t]))
    shares = res.to_dict()["cost_per_sample"]["spike_driven_fraction"]
    assert set(shares) == {"1", "4"} and 0.0 < shares["4"] < 1.0
    # the non-spiking work is not free: energy counts it at the MAC cost
    assert cost.energy(4) > cost.energy(1)


def test_inspect_shows_the_spike_driven_share(tmp_path) -> None:
    path = save(tmp_path / "g.sjir", _graph())
    result = CliRunner().invoke(app, ["inspect", str(path), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert set(info["spike_driven"]) == {"1", "4", "8", "16", "32", "64"}
    assert {r["node"]: r["work"] for r in info["nodes"]}["fc2"] == "dense"
    table = CliRunner().invoke(app, ["inspect", str(path)])
    assert "spike-driven share of operations" in table.stdout
