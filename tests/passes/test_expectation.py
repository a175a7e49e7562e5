"""Ops on accumulated values in a spiking graph: the exact limit of
``Compensate(f(RunningMean(X)))`` at every step, where the passes put running means,
compensations and encoders, and the bipolar burst neuron's bound."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from sjconvert.exec import Simulator
from sjconvert.exec.arrays import run_node
from sjconvert.exec.shapes import with_shapes
from sjconvert.ir import Graph
from sjconvert.ir import nodes as ir
from sjconvert.passes import encode_spikes, expectation, relu_to_if
from sjconvert.passes.calibrate import ActivationSummary

T, N = 7, 3
R = np.random.default_rng(0)


def _running_mean(x: torch.Tensor) -> torch.Tensor:
    return x.cumsum(0) / torch.arange(1, len(x) + 1).reshape(-1, *([1] * (x.ndim - 1)))


UNARY = [
    (ir.GELU(), F.gelu),
    (ir.SiLU(), F.silu),
    (ir.Hardswish(), F.hardswish),
    (ir.Tanh(), torch.tanh),
    (ir.Softmax(2), lambda x: torch.softmax(x, -1)),
    (ir.L2Normalize(), lambda x: F.normalize(x, dim=-1)),
    (
        ir.LayerNorm(np.full(5, 0.5, np.float32), np.full(5, 0.1, np.float32), 1e-5),
        lambda x: F.layer_norm(x, (5,), torch.full((5,), 0.5), torch.full((5,), 0.1)),
    ),
]


@pytest.mark.parametrize(("node", "fn"), UNARY, ids=[n.op for n, _ in UNARY])
def test_compensated_op_equals_the_op_of_the_running_mean_at_every_step(node, fn) -> None:
    """The output's running mean after step t is f of the input's running mean: the exact
    limit holds at every t, not only for many steps."""
    g = Graph({"x": ir.Input((4, 5), sequence=True), "f": node}, {"x": (), "f": ("x",)}, ("f",))
    snn = expectation(g)  # a running mean in, the output compensated back to increments
    assert isinstance(snn.nodes[snn.edges["f"][0]], ir.RunningMean)
    assert isinstance(snn.nodes[snn.outputs[0]], ir.Compensate)
    x = torch.randn(T, N, 4, 5)
    got = Simulator(snn).run(x, T=T).output
    torch.testing.assert_close(got, fn(_running_mean(x)), rtol=1e-5, atol=2e-6)


def test_product_of_two_time_varying_values_is_the_product_of_their_means() -> None:
    g = Graph(
        {
            "a": ir.Input((2, 4), sequence=True),
            "b": ir.Input((4, 3), sequence=True),
            "p": ir.MatMul(),
        },
        {"a": (), "b": (), "p": ("a", "b")},
        ("p",),
    )
    snn = expectation(g)
    kinds = [type(n) for _, n in snn]
    assert kinds.count(ir.RunningMean) == 2 and kinds.count(ir.Compensate) == 1
    a, b = torch.randn(T, N, 2, 4), torch.randn(T, N, 4, 3)
    got = Simulator(snn).run(a, b, T=T).output
    torch.testing.assert_close(got, _running_mean(a) @ _running_mean(b), rtol=1e-5, atol=1e-5)


def _snn_block() -> Graph:
    """spikes → Linear → GELU → LayerNorm → Linear → (+ a static branch) → readout."""
    w = R.normal(size=(4, 4)).astype(np.float32)
    nodes = {
        "x": ir.Input((4,)),
        "s": ir.BipolarIF(0.5, 0.25, max_spikes=4),
        "fc1": ir.Linear(w, None),
        "gelu": ir.GELU(),
        "ln": ir.LayerNorm(np.ones(4, np.float32), np.zeros(4, np.float32)),
        "fc2": ir.Linear(w, None),
        "static": ir.Tanh(),
        "sum": ir.Add(),
        "out": ir.Readout(),
    }
    edges = {
        "x": (),
        "s": ("x",),
        "fc1": ("s",),
        "gelu": ("fc1",),
        "ln": ("gelu",),
        "fc2": ("ln",),
        "static": ("x",),
        "sum": ("fc2", "static"),
        "out": ("sum",),
    }
    return Graph(nodes, edges, ("out",))


def test_running_means_and_compensations_go_only_where_the_domain_changes() -> None:
    snn = expectation(_snn_block())
    readers = {n: snn.edges[n] for n, _ in snn}
    (mean,) = readers["gelu"]
    assert isinstance(snn.nodes[mean], ir.RunningMean) and snn.edges[mean] == ("fc1",)
    assert readers["ln"] == ("gelu",)  # two ops on means in a row: nothing between
    # linear ops keep the domain they read: the synapse and the add work on running means
    # (no neuron here) and the increments come back only where the readout integrates them
    assert readers["fc2"] == ("ln",) and readers["sum"] == ("fc2", "static")
    (inc,) = readers["out"]
    assert isinstance(snn.nodes[inc], ir.Compensate) and snn.edges[inc] == ("sum",)
    assert readers["static"] == ("x",)
    assert expectation(snn) is snn  # applied once


def test_graphs_without_ops_on_accumulated_values_are_unchanged() -> None:
    g = Graph(
        {"x": ir.Input((3,)), "fc": ir.Linear(np.eye(3), None), "r": ir.ReLU()},
        {"x": (), "fc": ("x",), "r": ("fc",)},
        ("r",),
    )
    assert expectation(g) is g and encode_spikes(g) is g


def test_encoders_go_in_front_of_synapses_that_read_non_spiking_ops() -> None:
    w = np.ones((2, 3), np.float32)
    nodes = {
        "x": ir.Input((4, 3)),
        "ln": ir.LayerNorm(np.ones(3, np.float32), np.zeros(3, np.float32)),
        "first": ir.Slice(1, 0, 1),
        "flat": ir.Flatten(),
        "head": ir.Linear(w, None),
        "direct": ir.Linear(w, None),
        "out": ir.Add(),
    }
    edges = {
        "x": (),
        "ln": ("x",),
        "first": ("ln",),
        "flat": ("first",),
        "head": ("flat",),
        "direct": ("x",),
        "out": ("head", "direct"),
    }
    g = encode_spikes(Graph(nodes, edges, ("out",)))
    (enc,) = g.edges["head"]
    assert isinstance(g.nodes[enc], ir.Encode) and g.edges[enc] == ("flat",)
    assert g.edges["direct"] == ("x",)  # reads the input itself: no encoder
    assert sum(isinstance(n, ir.Encode) for _, n in g) == 1


@pytest.mark.parametrize("activation", [ir.Hardswish(), ir.ReLU()])
def test_a_max_pool_of_non_spiking_values_is_encoded_before_its_synapse(activation) -> None:
    """``x → activation → max pool → conv``: after a smooth activation the max pool's result
    is a value on accumulated values, so the convolution reads it as spikes through an
    encoder; after a ReLU (a neuron after conversion) it already reads spikes."""
    w = np.ones((2, 2, 3, 3), np.float32)
    nodes = {
        "x": ir.Input((2, 4, 4)),
        "act": activation,
        "pool": ir.MaxPool2d(2, 2, 0),
        "conv": ir.Conv2d(w, None, 1, 1),
    }
    edges = {"x": (), "act": ("x",), "pool": ("act",), "conv": ("pool",)}
    g = encode_spikes(Graph(nodes, edges, ("conv",)))
    (src,) = g.edges["conv"]
    if isinstance(activation, ir.ReLU):
        assert src == "pool" and not any(isinstance(n, ir.Encode) for _, n in g)
    else:
        assert isinstance(g.nodes[src], ir.Encode) and g.edges[src] == ("pool",)


def _tanh_encoded() -> Graph:
    """``x → tanh → Encode → identity Linear``."""
    return Graph(
        {
            "x": ir.Input((3,)),
            "t": ir.Tanh(),
            "e": ir.Encode(),
            "fc": ir.Linear(np.eye(3, dtype=np.float32), None),
        },
        {"x": (), "t": ("x",), "e": ("t",), "fc": ("e",)},
        ("fc",),
    )


def test_relu_to_if_turns_encoders_into_bipolar_neurons_with_the_magnitude_statistic() -> None:
    g = _tanh_encoded()
    summary = ActivationSummary()
    summary.update(torch.tensor([-0.8, 0.2, 0.5]).abs())
    snn = relu_to_if(with_shapes(g), {"e": summary}, mode="max", bipolar_burst=8)
    neuron = snn.nodes["e"]
    assert isinstance(neuron, ir.BipolarIF) and neuron.max_spikes == 8
    assert neuron.v_init == pytest.approx(0.5)  # rounds its running sum
    assert snn.meta["normalisation"]["lambda"]["e"] == pytest.approx(0.8)
    x = torch.tensor([[-5.0, 0.3, 5.0]])
    rate = Simulator(snn).rate(x)[snn.outputs[0]]
    torch.testing.assert_close(rate, torch.tanh(x).clamp(-0.8, 0.8))


def test_bipolar_headroom_carries_values_above_the_calibrated_scale() -> None:
    """Headroom H: the same threshold λ/B, up to B·H spikes per step, so values up to H·λ
    pass (in the rate limit and at every step of a steady input) instead of clipping at λ."""
    g = _tanh_encoded()
    summary = ActivationSummary()
    summary.update(torch.tensor([0.25, 0.1]))
    snn = relu_to_if(
        with_shapes(g), {"e": summary}, mode="max", bipolar_burst=8, bipolar_headroom=4
    )
    neuron = snn.nodes["e"]
    assert neuron.max_spikes == 32 and snn.meta["normalisation"]["bipolar_headroom"] == 4
    x = torch.tensor([[-5.0, 0.5, 0.1]])  # tanh: -1.0, 0.46, 0.1; λ = 0.25, range 1.0
    want = torch.tanh(x)
    torch.testing.assert_close(Simulator(snn).rate(x)[snn.outputs[0]], want)
    out = Simulator(snn).run(x, T=16, keep=[16]).output[0]
    assert float((out - want).abs().max()) <= 0.25 / 8 / 2 / 16 * 2 + 1e-6


@settings(max_examples=40, deadline=None)
@given(
    burst=st.integers(1, 16),
    theta=st.floats(0.1, 2.0),
    steps=st.integers(1, 20),
    seed=st.integers(0, 2**16),
)
def test_bipolar_neuron_tracks_its_running_sum_within_half_a_threshold(
    burst, theta, steps, seed
) -> None:
    """While the input moves by at most B·θ per step the net spikes never lag: θ·ΣS is
    within θ/2 of ΣX (start at θ/2: the floor rounds)."""
    r = np.random.default_rng(seed)
    x = torch.from_numpy(r.uniform(-burst * theta, burst * theta, (steps, 4, 6)))
    x = (x.float() * 0.999).clamp(-(burst - 0.5) * theta, (burst - 0.5) * theta)
    node = ir.BipolarIF(theta, theta / 2, max_spikes=burst)
    s, _ = run_node(node, x, steps, static=False)
    assert s.abs().max() <= burst and torch.equal(s, s.round())
    err = (s.cumsum(0) * np.float32(theta) - x.cumsum(0)).abs().max()
    assert float(err) <= theta / 2 + 1e-4 * steps
