"""Spike-exact parity of capture + reference simulator with SpikingJelly 2.0 (multi-step mode).

SpikingJelly runs each model with ``step_mode='m'`` on input ``[T, N, ...]``; sjconvert
captures the same model into the IR (:func:`sjconvert.ir.capture`) and simulates it
(:class:`sjconvert.sim.Program`, :func:`sjconvert.sim.neurons.run_neuron`). Spikes are
compared with ``torch.equal``, never with a tolerance:

* single neuron layers: every spike at every step and the final membrane potential;
* whole networks: the cumulative spike count of every output neuron after every step. The
  simulator returns running means, and ``round(mean[t] * (t + 1))`` is that integer count
  exactly; equal cumulative counts at all steps mean equal spike trains.

Inputs include values on a 1/8 grid, so membranes land exactly on the threshold and the
``H - V_th >= 0`` firing rule is exercised, not only the generic case.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from spikingjelly.activation_based import functional, layer, neuron
from torch import nn

from sjconvert.exec import Simulator
from sjconvert.exec.arrays import run_node
from sjconvert.frontends import capture
from sjconvert.ir import Graph
from sjconvert.ir import nodes as ir
from tests.exec.sj_helpers import randomise_bn, scale_weights, sj_forward

pytestmark = pytest.mark.interop

INPUT_KINDS = ("uniform", "normal", "grid")
T_STEPS, N_BATCH = 16, 8


# -- helpers ----------------------------------------------------------------------------------
def make_input(kind: str, seed: int, shape: tuple[int, ...], scale: float = 1.0) -> torch.Tensor:
    """Real-valued input currents that make a threshold-1 neuron fire often.

    ``grid`` values are multiples of 1/8 (exact in float32), so sums hit 1.0 exactly."""
    g = torch.Generator().manual_seed(seed)
    if kind == "uniform":
        x = torch.rand(shape, generator=g) * 1.5
    elif kind == "normal":
        x = torch.randn(shape, generator=g) * 0.8 + 0.4
    elif kind == "grid":
        x = torch.randint(-4, 12, shape, generator=g).float() / 8
    else:
        raise ValueError(kind)
    return x * scale


def sim_counts(graph: Graph, x: torch.Tensor, T: int, sequence: bool = True) -> torch.Tensor:
    """Cumulative spike counts ``[T, N, ...]`` of the graph's single output, recovered exactly
    from the simulator's running mean."""
    res = Simulator(graph).run(x, T=T, sequence=sequence)
    (name,) = graph.outputs
    mean = res.outputs[name]
    steps = torch.arange(1, T + 1, dtype=mean.dtype).reshape(-1, *([1] * (mean.ndim - 1)))
    return torch.round(mean * steps)


def assert_same_counts(sj_spikes: torch.Tensor, counts: torch.Tensor) -> None:
    """Exact equality of cumulative spike counts, with a useful message when they differ."""
    want = torch.cumsum(sj_spikes, 0)
    assert counts.shape == want.shape, (counts.shape, want.shape)
    if not torch.equal(counts, want):
        bad = counts != want
        first = int(bad.flatten(1).any(1).nonzero()[0])
        raise AssertionError(
            f"{int(bad.sum())} of {bad.numel()} cumulative spike counts differ; "
            f"first at step {first} (T={want.shape[0]})"
        )


def assert_spikes_equal(got: torch.Tensor, want: torch.Tensor) -> None:
    assert got.shape == want.shape, (got.shape, want.shape)
    if not torch.equal(got, want):
        bad = got != want
        first = int(bad.flatten(1).any(1).nonzero()[0])
        raise AssertionError(
            f"{int(bad.sum())} of {bad.numel()} spikes differ; first at step {first}"
        )


def neuron_rates(net: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """Firing rate of every neuron layer of ``net`` on ``x`` (SpikingJelly forward)."""
    rates: dict[str, float] = {}
    hooks = [
        m.register_forward_hook(lambda m, a, y, n=name: rates.__setitem__(n, float(y.mean())))
        for name, m in net.named_modules()
        if isinstance(m, neuron.BaseNode)
    ]
    try:
        sj_forward(net, x)
    finally:
        for h in hooks:
            h.remove()
    return rates


def _input_scale(kwargs: dict[str, Any]) -> float:
    """decay_input neurons see X/τ: scale the input by τ so that they still fire often."""
    if not kwargs.get("decay_input", True):
        return 1.0
    return float(kwargs.get("tau", kwargs.get("init_tau", 1.0)))


# -- 1. single neuron layers ---------------------------------------------------------------------
def _neuron_cases() -> list[Any]:
    cases = []
    for vt, vr in itertools.product((1.0, 0.7), (None, 0.0, -0.3)):
        cases.append(
            pytest.param(
                neuron.IFNode, {"v_threshold": vt, "v_reset": vr}, id=f"IF-th{vt}-reset{vr}"
            )
        )
    for tau, di, vr in itertools.product((2.0, 3.7), (True, False), (None, 0.0, -0.3)):
        cases.append(
            pytest.param(
                neuron.LIFNode,
                {"tau": tau, "decay_input": di, "v_reset": vr},
                id=f"LIF-tau{tau}-di{di}-reset{vr}",
            )
        )
    for tau, di, vr in itertools.product((2.0, 3.3), (True, False), (None, 0.0)):
        cases.append(
            pytest.param(
                neuron.ParametricLIFNode,
                {"init_tau": tau, "decay_input": di, "v_reset": vr},
                id=f"PLIF-tau{tau}-di{di}-reset{vr}",
            )
        )
    cases.append(
        pytest.param(
            neuron.LIFNode,
            {"tau": 3.7, "decay_input": False, "v_reset": -0.3, "v_threshold": 0.7},
            id="LIF-all-nondefault",
        )
    )
    return cases


@pytest.mark.parametrize("kind", INPUT_KINDS)
@pytest.mark.parametrize(("cls", "kwargs"), _neuron_cases())
def test_single_layer_spikes_identical(
    cls: type[nn.Module], kwargs: dict[str, Any], kind: str
) -> None:
    node_sj = cls(**kwargs)
    net = nn.Sequential(node_sj)
    functional.set_step_mode(net, "m")
    x = make_input(
        kind, seed=INPUT_KINDS.index(kind), shape=(T_STEPS, N_BATCH, 6), scale=_input_scale(kwargs)
    )
    graph = capture(net, x)
    (name,) = graph.outputs
    node = graph.nodes[name]
    assert isinstance(node, ir.IF | ir.LIF)

    want = sj_forward(net, x)
    rate = float(want.mean())
    assert 0.1 < rate < 0.9, f"input does not exercise the neuron (rate {rate:.2f})"

    spikes, state = run_node(node, x, T_STEPS, static=False)
    v = state["v"]
    assert_spikes_equal(spikes, want)
    assert torch.equal(v, node_sj.v), "final membrane potential differs"
    assert_same_counts(want, sim_counts(graph, x, T_STEPS))


def test_grid_input_hits_threshold_and_the_comparison_is_inclusive() -> None:
    """The 1/8-grid input drives IF membranes exactly onto V_th = 1, and moving the threshold
    up by one float32 ulp changes the spikes: the parity tests see the ``>=`` boundary."""
    node_sj = neuron.IFNode(v_reset=None, store_v_seq=True)
    functional.set_step_mode(node_sj, "m")
    x = make_input("grid", seed=2, shape=(T_STEPS, N_BATCH, 6))
    want = sj_forward(node_sj, x)
    v_before = torch.cat([torch.zeros_like(x[:1]), node_sj.v_seq[:-1]])
    hits = int(((v_before + x) == 1.0).sum())  # H[t] = V[t-1] + X[t], as SpikingJelly does
    assert hits >= 10, hits

    node = capture(nn.Sequential(node_sj), x).nodes["_0"]
    assert isinstance(node, ir.IF)
    assert_spikes_equal(run_node(node, x, T_STEPS, static=False)[0], want)
    above = torch.nextafter(torch.tensor(1.0), torch.tensor(2.0)).item()
    nudged = run_node(node.evolve(v_threshold=above), x, T_STEPS, static=False)[0]
    assert not torch.equal(nudged, want)


@pytest.mark.parametrize("static", [False, True], ids=["sequence", "static"])
@pytest.mark.parametrize(
    "module",
    [
        neuron.IFNode(v_reset=None),
        neuron.LIFNode(tau=2.0, v_reset=-0.3),
        neuron.ParametricLIFNode(init_tau=3.3, decay_input=False),
    ],
    ids=["IF-soft", "LIF-hard", "PLIF"],
)
def test_large_layer_spikes_identical(module: nn.Module, static: bool) -> None:
    """A layer big enough that the simulator splits the batch into several chunks (the
    last one partial): every chunk still matches SpikingJelly spike for spike."""
    T, N, F = 6, 25, 3000
    x0 = make_input("grid", seed=7, shape=(N, F), scale=_input_scale({"tau": 2.0}))
    x = x0.expand(T, N, F).contiguous() if static else make_input("normal", 7, (T, N, F), 2.0)
    net = nn.Sequential(module)
    functional.set_step_mode(net, "m")
    node = capture(net, x[:, :2]).nodes["_0"]
    assert isinstance(node, ir.IF | ir.LIF)
    want = sj_forward(net, x)
    spikes, state = run_node(node, x0 if static else x, T, static=static)
    v = state["v"]
    assert_spikes_equal(spikes, want)
    assert torch.equal(v, module.v)


# -- 2. whole networks -------------------------------------------------------------------------
def plain_net() -> nn.Module:
    """Step-aware SpikingJelly layers: conv-BN-IF, pool, conv-LIF, linear-PLIF."""
    torch.manual_seed(1)
    net = nn.Sequential(
        layer.Conv2d(1, 8, 3, padding=1),
        layer.BatchNorm2d(8),
        neuron.IFNode(),
        layer.AvgPool2d(2),
        layer.Conv2d(8, 8, 3, padding=1),
        neuron.LIFNode(tau=2.0),
        layer.Flatten(),
        layer.Linear(8 * 4 * 4, 10),
        neuron.ParametricLIFNode(),
    )
    randomise_bn(net, 1)
    scale_weights(net, 3.0, 6.0, 10.0)
    return net


def container_net() -> nn.Module:
    """Plain torch layers folded over T·N by SeqToANNContainer, and non-default neurons."""
    torch.manual_seed(2)
    net = nn.Sequential(
        layer.SeqToANNContainer(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8)),
        neuron.IFNode(v_reset=None, v_threshold=0.7),
        layer.SeqToANNContainer(nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1)),
        neuron.ParametricLIFNode(init_tau=3.3, decay_input=False, v_reset=-0.3),
        layer.SeqToANNContainer(nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8 * 2 * 2, 10)),
        neuron.LIFNode(tau=3.7, v_threshold=0.7, v_reset=None),
    )
    randomise_bn(net, 2)
    scale_weights(net, 3.0, 4.0, 20.0)
    return net


class ResidualNet(nn.Module):
    """A stem and two spiking branches summed (``a + b``), then a spiking classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            layer.Conv2d(1, 8, 3, padding=1), layer.BatchNorm2d(8), neuron.IFNode()
        )
        self.branch_a = nn.Sequential(
            layer.Conv2d(8, 8, 3, padding=1), layer.BatchNorm2d(8), neuron.LIFNode(tau=2.0)
        )
        self.branch_b = nn.Sequential(layer.Conv2d(8, 8, 1), neuron.IFNode(v_reset=None))
        self.head = nn.Sequential(
            layer.AvgPool2d(2),
            layer.Flatten(),
            layer.Linear(8 * 4 * 4, 10),
            neuron.IFNode(v_threshold=0.7),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        return self.head(self.branch_a(h) + self.branch_b(h))


def residual_net() -> nn.Module:
    torch.manual_seed(3)
    net = ResidualNet()
    randomise_bn(net, 3)
    scale_weights(net, 3.0, 3.0, 3.0, 3.0)
    return net


NETS: dict[str, Callable[[], nn.Module]] = {
    "plain": plain_net,
    "containers": container_net,
    "residual": residual_net,
}
IMAGE = (1, 8, 8)


def _net_input(kind: str, T: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if kind == "direct":  # the same real-valued frame at every step
        return (torch.rand(4, *IMAGE, generator=g) * 2).expand(T, 4, *IMAGE).contiguous()
    return (torch.rand(T, 4, *IMAGE, generator=g) < 0.4).float()  # random binary spikes


@pytest.mark.parametrize("T", [8, 11, 16])
@pytest.mark.parametrize("kind", ["direct", "spikes"])
@pytest.mark.parametrize("net_name", list(NETS))
def test_network_output_spikes_identical(net_name: str, kind: str, T: int) -> None:
    net = NETS[net_name]()
    functional.set_step_mode(net, "m")
    x = _net_input(kind, T, seed=T)
    graph = capture(net, x)
    rates = neuron_rates(net, x)
    assert all(0.03 < r < 0.97 for r in rates.values()), rates  # every layer is active
    assert_same_counts(sj_forward(net, x), sim_counts(graph, x, T))


@pytest.mark.parametrize("net_name", list(NETS))
def test_network_static_direct_input_identical(net_name: str) -> None:
    """Direct input given once as ``[N, ...]`` (the simulator computes the first stateless
    layers once) matches SpikingJelly fed the frame repeated T times."""
    T = 12
    net = NETS[net_name]()
    functional.set_step_mode(net, "m")
    x = _net_input("direct", T, seed=5)
    graph = capture(net, x)
    assert_same_counts(sj_forward(net, x), sim_counts(graph, x[0], T, sequence=False))


# -- 3. property test: random LIF parameters ------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(
    tau=st.floats(1.5, 5.0),
    v_threshold=st.floats(0.3, 2.0),
    v_reset=st.one_of(st.none(), st.just(0.0), st.floats(-1.0, -0.05)),
    decay_input=st.booleans(),
    kind=st.sampled_from(INPUT_KINDS),
    seed=st.integers(0, 2**16),
)
def test_lif_random_parameters_spikes_identical(
    tau: float,
    v_threshold: float,
    v_reset: float | None,
    decay_input: bool,
    kind: str,
    seed: int,
) -> None:
    node_sj = neuron.LIFNode(
        tau=tau, v_threshold=v_threshold, v_reset=v_reset, decay_input=decay_input
    )
    net = nn.Sequential(node_sj)
    functional.set_step_mode(net, "m")
    scale = v_threshold * (tau if decay_input else 1.0)
    x = make_input(kind, seed, shape=(T_STEPS, 4, 5), scale=scale)
    graph = capture(net, x)
    node = graph.nodes["_0"]
    want = sj_forward(net, x)
    spikes, state = run_node(node, x, T_STEPS, static=False)
    v = state["v"]
    assert_spikes_equal(spikes, want)
    assert torch.equal(v, node_sj.v)
    assert_same_counts(want, sim_counts(graph, x, T_STEPS))


# -- 4. captured graph structure and parameters -----------------------------------------------
def _ops(graph: Graph) -> list[str]:
    return [node.op for _, node in graph]


@pytest.mark.parametrize(
    ("net_name", "ops"),
    [
        (
            "plain",
            [
                "Input",
                "Conv2d",
                "BatchNorm",
                "IF",
                "AvgPool2d",
                "Conv2d",
                "LIF",
                "Flatten",
                "Linear",
                "LIF",
            ],
        ),
        (
            "containers",
            [
                "Input",
                "Conv2d",
                "BatchNorm",
                "IF",
                "MaxPool2d",
                "Conv2d",
                "LIF",
                "AvgPool2d",
                "Flatten",
                "Linear",
                "LIF",
            ],
        ),
        (
            "residual",
            [
                "Input",
                "Conv2d",
                "BatchNorm",
                "IF",
                "Conv2d",
                "BatchNorm",
                "LIF",
                "Conv2d",
                "IF",
                "Add",
                "AvgPool2d",
                "Flatten",
                "Linear",
                "IF",
            ],
        ),
    ],
)
def test_captured_ops_and_shapes(net_name: str, ops: list[str]) -> None:
    net = NETS[net_name]()
    functional.set_step_mode(net, "m")
    graph = capture(net, _net_input("spikes", 4, seed=0))
    assert _ops(graph) == ops
    assert graph.meta["lead_axes"] == 2
    assert graph.shapes[graph.inputs[0]] == IMAGE  # per step, batch axis excluded
    assert graph.shapes[graph.outputs[0]] == (10,)
    if net_name == "residual":
        (add,) = [n for n, node in graph if node.op == "Add"]
        assert [graph.nodes[s].op for s in graph.edges[add]] == ["LIF", "IF"]


def test_captured_parameters_match_modules() -> None:
    net = plain_net()
    functional.set_step_mode(net, "m")
    graph = capture(net, _net_input("spikes", 4, seed=0))
    nodes = [node for _, node in graph]
    conv, bn, if_, lif, plif = nodes[1], nodes[2], nodes[3], nodes[6], nodes[9]

    assert isinstance(conv, ir.Conv2d)
    assert torch.equal(torch.tensor(conv.weight), net[0].weight.detach())
    assert torch.equal(torch.tensor(conv.bias), net[0].bias.detach())
    assert (conv.stride, conv.padding) == ((1, 1), (1, 1))
    assert isinstance(bn, ir.BatchNorm)
    assert torch.equal(torch.tensor(bn.mean), net[1].running_mean)
    assert torch.equal(torch.tensor(bn.var), net[1].running_var)
    assert bn.eps == net[1].eps

    assert isinstance(if_, ir.IF)
    assert (if_.v_threshold, if_.v_reset, if_.v_init) == (1.0, 0.0, 0.0)
    assert isinstance(lif, ir.LIF)
    assert (lif.tau, lif.v_threshold, lif.v_reset, lif.decay_input, lif.decay) == (
        2.0,
        1.0,
        0.0,
        True,
        None,
    )
    assert isinstance(plif, ir.LIF)
    q = float(net[8].w.detach().sigmoid())
    assert plif.decay == q and math.isclose(plif.tau, 2.0, rel_tol=1e-6)
    assert (plif.v_threshold, plif.v_reset, plif.decay_input) == (1.0, 0.0, True)


@pytest.mark.parametrize(
    ("module", "want"),
    [
        (
            neuron.IFNode(v_threshold=0.7, v_reset=None),
            {"v_threshold": 0.7, "v_reset": None, "v_init": 0.0},
        ),
        (neuron.IFNode(v_reset=-0.3), {"v_threshold": 1.0, "v_reset": -0.3, "v_init": -0.3}),
        (
            neuron.LIFNode(tau=3.7, decay_input=False, v_reset=-0.3, v_threshold=0.7),
            {
                "tau": 3.7,
                "v_threshold": 0.7,
                "v_reset": -0.3,
                "decay_input": False,
                "v_init": -0.3,
                "decay": None,
            },
        ),
        (
            neuron.LIFNode(tau=2.5, v_reset=None),
            {"tau": 2.5, "v_reset": None, "decay_input": True, "v_init": 0.0},
        ),
        (
            neuron.ParametricLIFNode(init_tau=3.3, decay_input=False, v_reset=None),
            {"v_reset": None, "decay_input": False, "v_init": 0.0},
        ),
    ],
    ids=["IF-soft", "IF-hard", "LIF-hard", "LIF-soft", "PLIF-soft"],
)
def test_neuron_parameters_read_from_module(module: nn.Module, want: dict[str, Any]) -> None:
    net = nn.Sequential(module)
    functional.set_step_mode(net, "m")
    node = capture(net, torch.zeros(3, 2, 5)).nodes["_0"]
    assert {k: node.params()[k] for k in want} == want
    if isinstance(module, neuron.ParametricLIFNode):
        q = float(module.w.detach().sigmoid())
        assert node.decay == q and node.tau == 1.0 / q
        assert math.isclose(node.tau, 3.3, rel_tol=1e-6)
