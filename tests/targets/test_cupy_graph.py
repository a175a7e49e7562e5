"""The cupy target's simulation graph against the torch reference simulator.

NumPy with torch synapses (DLPack) must give bit-identical float32 outputs and spikes on
the samples and on random graphs (every node class alone: ``tests/conformance``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sjconvert import ann2snn
from sjconvert.exec import Simulator, infer_shapes
from sjconvert.ir import Graph
from sjconvert.ir import nodes as ir
from sjconvert.targets.cupy import to_cupy
from tests.conftest import load_sample
from tests.exec.test_programs import neurons


def assert_same(graph: Graph, x: np.ndarray, T: int, **kw: Any) -> None:
    """The NumPy graph reproduces the reference exactly: every step's output, every count."""
    ref = Simulator(graph).run(torch.from_numpy(x), T=T, **kw)
    res = to_cupy(graph, "numpy").run(x, T=T, **kw)
    for name, y in ref.outputs.items():
        assert torch.equal(res.outputs[name], y), f"output {name} differs"
    assert res.spikes == ref.spikes


@pytest.mark.parametrize("sample", ["digits", "mnist1d"])
def test_samples_are_bit_identical_with_torch_synapses(sample: str) -> None:
    model, test, calib = load_sample(sample)
    snn = ann2snn(model, [calib["x"][:64]]).snn
    assert_same(snn, test["x"][:48].astype(np.float32), 16)


class _Net:
    """A chain builder that tracks the running per-sample shape with the torch kernels."""

    def __init__(self, shape: tuple[int, ...], r: np.random.Generator, dyadic: bool) -> None:
        self.nodes: dict[str, ir.Node] = {"x": ir.Input(shape)}
        self.edges: dict[str, tuple[str, ...]] = {"x": ()}
        self.shape, self.last, self.r, self.dyadic = shape, "x", r, dyadic

    def weights(self, *shape: int) -> np.ndarray:
        if self.dyadic:  # multiples of 1/8: every synapse sum is exact in float32
            return self.r.integers(-8, 9, size=shape) / 8.0
        return self.r.normal(size=shape) / np.sqrt(np.prod(shape[1:]))

    def add(self, node: ir.Node, *ins: str) -> str:
        name = f"n{len(self.nodes)}"
        self.nodes[name], self.edges[name] = node, ins or (self.last,)
        self.shape = infer_shapes(Graph(self.nodes, self.edges, (name,)))[name]
        self.last = name
        return name

    def graph(self) -> Graph:
        return Graph(self.nodes, self.edges, (self.last,))


def _fit(node: ir.Node, channels: int) -> ir.Node:
    """The node with its per-channel arrays resized to ``channels``."""
    fields = {k: getattr(node, k) for k in ("v_threshold", "v_init") if hasattr(node, k)}
    return node.evolve(
        **{k: np.resize(v, channels) if np.ndim(v) else v for k, v in fields.items()}
    )


@st.composite
def networks(draw: st.DrawFn, dyadic: bool = False) -> tuple[Graph, np.ndarray, int, int, bool]:
    """Conv → neuron → pool → residual block (scaled add) → dense → neuron → readout."""
    r = np.random.default_rng(draw(st.integers(0, 2**16)))
    dims = draw(st.sampled_from([1, 2]))
    conv = ir.Conv1d if dims == 1 else ir.Conv2d
    pools = [ir.AvgPool1d, ir.MaxPool1d] if dims == 1 else [ir.AvgPool2d, ir.MaxPool2d]
    c_in, side = draw(st.integers(1, 2)), draw(st.integers(6, 9))
    net = _Net((c_in, *([side] * dims)), r, dyadic)
    k, groups = draw(st.integers(1, 3)), draw(st.sampled_from([1, c_in]))
    w = net.weights(3 * groups, c_in // groups, *([k] * dims))
    net.add(conv(w, net.weights(3 * groups), draw(st.integers(1, 2)), k // 2, 1, groups))
    net.add(_fit(draw(neurons(spiking=dyadic)), net.shape[0]))
    if draw(st.booleans()):
        net.add(draw(st.sampled_from(pools))(2, 2, draw(st.integers(0, 1))))
    c = net.shape[0]
    if draw(st.booleans()):  # residual: Y = s·X + conv(neuron(conv(X)))
        skip = net.last
        net.add(conv(net.weights(c, c, *([3] * dims)), None, 1, 1))
        net.add(ir.IF(1.0, None))
        branch = net.add(conv(net.weights(c, c, *([3] * dims)), None, 1, 1))
        scaled = net.add(ir.Scale(draw(st.sampled_from([0.5, 0.75, 1.25]))), skip)
        net.add(ir.Add(), scaled, branch)
        net.add(_fit(draw(neurons(spiking=dyadic)), c))
    net.add(ir.Flatten())
    net.add(ir.Linear(net.weights(6, net.shape[0]), net.weights(6)))
    net.add(_fit(draw(neurons(spiking=dyadic)), 6))
    net.add(ir.Linear(net.weights(4, 6), None))
    net.add(ir.Readout())
    T, sequence = draw(st.integers(1, 10)), draw(st.booleans())
    shape = (T, 5, *net.nodes["x"].shape) if sequence else (5, *net.nodes["x"].shape)
    x = net.r.integers(0, 9, size=shape) / 8.0 if dyadic else net.r.uniform(0, 1.5, size=shape)
    return net.graph(), x.astype(np.float32), T, draw(st.integers(1, T)), sequence


@settings(max_examples=25, deadline=None)
@given(case=networks())
def test_random_graphs_are_bit_identical_with_torch_synapses(case) -> None:
    graph, x, T, block, sequence = case
    assert_same(graph, x, T, sequence=sequence, block=block)


def _has_device() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False
