"""fold_scales: the tensor function, the neuron helper and the pass (power-of-two scales
make folding exact in float, so spikes must match bit for bit)."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sjconvert.exec import Simulator
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph
from sjconvert.passes import fold_scales
from sjconvert.passes.fold_scale import neuron_on_unscaled, scale_weight_inputs


def test_scale_weight_inputs_scales_columns_and_channels() -> None:
    w = np.ones((2, 3), np.float32)
    assert scale_weight_inputs(w, np.array([1, 2, 4], np.float32)).tolist() == [[1, 2, 4]] * 2
    conv = scale_weight_inputs(np.ones((1, 2, 3), np.float32), np.array([2, 3], np.float32))
    assert conv[0, :, 0].tolist() == [2, 3]


def test_neuron_on_unscaled_divides_threshold_init_and_reset() -> None:
    n = neuron_on_unscaled(ir.IF(1.0, 0.5, 0.5), 2.0)
    assert (n.v_threshold, n.v_reset, n.v_init) == (0.5, 0.25, 0.25)
    per = neuron_on_unscaled(ir.IF(1.0, None, 0.0), np.array([2.0, 4.0]))
    assert per.v_threshold.tolist() == [0.5, 0.25] and per.v_reset is None
    assert neuron_on_unscaled(ir.IF(1.0, 0.5, 0.5), np.array([2.0, 4.0])) is None
    assert neuron_on_unscaled(ir.IF(1.0, None, 0.0), -1.0) is None


def _scales(draw: st.DrawFn, n: int) -> np.ndarray:
    return np.array([2.0 ** draw(st.integers(-3, 3)) for _ in range(n)], np.float32)


@st.composite
def scaled_nets(draw: st.DrawFn) -> Graph:
    """conv → Scale → IF → Scale → pool → flatten → linear → Scale → LIF → Scale → linear."""
    r = np.random.default_rng(draw(st.integers(0, 2**16)))
    c = draw(st.integers(1, 3))
    per = draw(st.booleans())
    k = c if per else 1

    def scale() -> ir.Scale:
        s = _scales(draw, k)
        return ir.Scale(s if per else s.reshape(()))

    nodes = {
        "x": ir.Input((2, 4, 4)),
        "c": ir.Conv2d(r.normal(size=(c, 2, 3, 3)), r.normal(size=c), 1, 1),
        "s0": scale(),
        "n0": ir.IF(1.0, draw(st.sampled_from([None, 0.0])), 0.0),
        "s1": scale(),
        "p": ir.AvgPool2d(2, 2, 0),
        "f": ir.Flatten(1, -1),
        "l": ir.Linear(r.normal(size=(3, 4 * c)), r.normal(size=3)),
        "s2": ir.Scale(_scales(draw, 1).reshape(())),
        "n1": ir.LIF(2.0, 0.5, 0.0, draw(st.booleans()), 0.0),
        "s3": ir.Scale(_scales(draw, 1).reshape(())),
        "o": ir.Linear(r.normal(size=(2, 3)), None),
    }
    names = list(nodes)
    edges = {n: (names[i - 1],) if i else () for i, n in enumerate(names)}
    graph = Graph(nodes, edges, ("o",))
    return Graph(graph.nodes, graph.edges, graph.outputs, _shapes(graph))


def _shapes(graph: Graph) -> dict[str, tuple[int, ...]]:
    values = Simulator(graph).rate(torch.zeros(1, 2, 4, 4))
    return {n: tuple(v.shape[1:]) for n, v in values.items()}


@settings(max_examples=25, deadline=None)
@given(scaled_nets())
def test_folding_power_of_two_scales_keeps_spikes(graph: Graph) -> None:
    folded = fold_scales(graph)
    assert not any(isinstance(n, ir.Scale) for _, n in folded)
    x = torch.rand(3, 2, 4, 4) * 2
    a, b = Simulator(graph).run(x, T=10), Simulator(folded).run(x, T=10)
    assert a.spikes == b.spikes
    torch.testing.assert_close(a.output, b.output, rtol=1e-5, atol=1e-5)


def test_scales_that_cannot_fold_stay() -> None:
    nodes = {"x": ir.Input((3,)), "s": ir.Scale(np.float32(2.0)), "a": ir.Add()}
    graph = Graph(nodes, {"x": (), "s": ("x",), "a": ("s", "x")}, ("a",))
    assert list(fold_scales(graph).nodes) == ["x", "s", "a"]
