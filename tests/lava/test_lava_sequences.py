"""``sjconvert to-lava --verify`` on spike-sequence data: a graph whose input is a sequence
runs ``[N, T, ...]`` (or ``--time-major`` ``[T, N, ...]``) data through our fixed-point
simulator and Lava, spike for spike.

The graph is the bundled SNN sample's synapses with IF neurons (hard reset to 0) in place
of its LIF layers, so it needs neither SpikingJelly nor a LIF mapping for Loihi."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sjconvert.cli.main import app
from sjconvert.exec.shapes import with_shapes
from sjconvert.ir import Graph, save
from sjconvert.ir import nodes as ir

pytestmark = pytest.mark.lava
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def if_sample() -> Graph:
    """``Conv2d → IF → AvgPool → Flatten → Linear → IF → Linear → IF`` with the weights of
    ``samples/digits_snn.pt``; input: spike sequences of ``[1, 8, 8]`` frames."""
    w = {k: v.numpy() for k, v in torch.load(SAMPLES / "digits_snn.pt").items()}
    layers: list[tuple[str, ir.Node]] = [
        ("conv", ir.Conv2d(w["net.0.weight"], None, 1, 1)),
        ("if1", ir.IF(1.0, 0.0, 0.0)),
        ("pool", ir.AvgPool2d(2, 2, 0)),
        ("flat", ir.Flatten(1, -1)),
        ("fc1", ir.Linear(w["net.5.weight"], None)),
        ("if2", ir.IF(1.0, 0.0, 0.0)),
        ("fc2", ir.Linear(w["net.7.weight"], None)),
        ("if3", ir.IF(1.0, 0.0, 0.0)),
    ]
    nodes: dict[str, ir.Node] = {"x": ir.Input((1, 8, 8), sequence=True)}
    edges: dict[str, tuple[str, ...]] = {"x": ()}
    prev = "x"
    for name, node in layers:
        nodes[name], edges[name], prev = node, (prev,), name
    return with_shapes(Graph(nodes, edges, (prev,)))


def _verify(tmp_path: Path, data: Path, *extra: str) -> dict:
    args = [
        "to-lava", str(tmp_path / "if.sjir"), "-o", str(tmp_path / "if.net"), "-T", "16",
        "--verify", str(data), "--lava-samples", "2", "--json", *extra,
    ]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["verify"]


def test_sequences_verify_spike_exact_in_lava(tmp_path: Path) -> None:
    save(tmp_path / "if.sjir", if_sample())
    test = np.load(SAMPLES / "digits_snn_test.npz")
    x, y = test["x"][:12], test["y"][:12]
    np.savez(tmp_path / "nt.npz", x=x, y=y)
    np.savez(tmp_path / "tn.npz", x=x.swapaxes(0, 1), y=y)
    sample_major = _verify(tmp_path, tmp_path / "nt.npz")
    lava = sample_major["lava"]
    assert lava["samples"] == 2 and lava["state_equal"]
    assert set(lava["spike_agreement"].values()) == {1.0}
    assert lava["accuracy"] == lava["fixed_point_accuracy"]
    time_major = _verify(tmp_path, tmp_path / "tn.npz", "--time-major")
    for key in ("snn_float", "fixed_point"):
        assert time_major[key] == sample_major[key]
    assert time_major["lava"]["spike_agreement"] == lava["spike_agreement"]
