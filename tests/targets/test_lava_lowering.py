"""Lowering a spiking graph to Loihi populations and synapses: every linear path becomes one
synapse that computes exactly what the graph computes (hypothesis DAGs with residual adds,
scaled skips, concatenation, pools, Conv1d/Conv2d), and what is not one synapse is named."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sjconvert import ann2snn
from sjconvert.errors import UnsupportedOpError
from sjconvert.exec import Simulator
from sjconvert.ir import nodes as ir
from sjconvert.targets.lava.lowering.compose import ConvMap, Uncomposable
from sjconvert.targets.lava.lowering.populations import lower
from sjconvert.targets.lava.network import Paths, Synapse
from tests.conftest import chain, load_sample
from tests.targets.lava_graphs import DagBuilder, ShuffleNet, snn_dags


def apply(s: Synapse, x: torch.Tensor) -> torch.Tensor:
    """A float synapse on source values ``x`` ``[N, *src shape]``."""
    w = torch.tensor(np.asarray(s.weight, np.float64))
    if s.kind == "dense":
        return x.reshape(len(x), -1) @ w.T
    fn = F.conv1d if w.ndim == 3 else F.conv2d
    return fn(x, w, None, s.stride, s.padding, s.dilation, s.groups)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=snn_dags())
def test_each_population_gets_what_the_graph_computes(case):
    """Σ synapses(source values) + bias = the value entering each neuron, for every neuron
    of random DAGs (values from the float graph in rate mode)."""
    graph, r = case
    x = torch.tensor(r.uniform(0, 1, (3, *graph.shapes["x"])), dtype=torch.float64)
    assert_synapses_compute_the_graph(graph, lower(graph), x)


def assert_synapses_compute_the_graph(graph: ir.Graph, paths: Paths, x: torch.Tensor) -> None:
    """Σ synapses(source values) + bias = the value entering each neuron (``x``: inputs)."""
    values = Simulator(graph, dtype=torch.float64).rate(x)
    values[graph.inputs[0]] = x
    for name, pop in paths.populations.items():
        node, at = pop.part_of or (name, 0)
        for part in paths.populations.values():  # a split population's value: its parts
            if part.part_of is not None:
                values.setdefault(part.name, values[part.part_of[0]][:, part.part_of[1] :])
        total = torch.tensor(pop.bias).expand(len(x), *pop.shape).clone()
        for s in paths.into(name):
            total += apply(
                s,
                values[s.src][:, : paths.populations.get(s.src, pop).shape[0]]
                if s.src in paths.populations
                else values[s.src],
            ).reshape(total.shape)
        (src,) = graph.edges[node]
        want = values[src][:, at : at + pop.shape[0]]
        torch.testing.assert_close(total, want, rtol=1e-9, atol=1e-9)


def test_channel_shuffle_and_split_fold_into_the_synapses():
    """ShuffleNet V2's shuffle (view → transpose → view) and split (chunk) are selections of
    channels: no population of their own, and every neuron still gets exactly what the graph
    computes. The first half of a split passes two shuffles without a neuron, so the units'
    branches read populations two units back."""
    x = torch.randn(8, 2, 8, 8)
    snn = ann2snn(ShuffleNet().eval(), [x], T=None, v_init=0.0, neuron="if").snn
    moves = [n for n, node in snn if node.op in ("Reshape", "Transpose", "Slice")]
    assert len(moves) == 3 * 3 + 2 * 2
    paths = lower(snn)
    assert len(paths.populations) == 10  # the ReLUs (stem, left, 2 right, 2 × 2 units, head)
    assert_synapses_compute_the_graph(snn, paths, x[:3].double())
    into = {p: {s.src for s in paths.into(p)} for p in ("units_1_1", "head_1")}
    assert into["units_1_1"] == {"left_2", "right_4", "units_0_4"}  # via two shuffles
    assert into["head_1"] == {"left_2", "right_4", "units_0_4", "units_1_4"}
    assert all(s.weight.shape[2:] == (1, 1) for s in paths.into("units_1_1"))


def test_mnist1d_residual_net_lowers_to_composed_synapses():
    model, _, calib = load_sample("mnist1d")
    snn = ann2snn(model, [calib["x"][:64]], T=None, v_init=0.0, neuron="if").snn
    paths = lower(snn)
    assert list(paths.populations) == [
        "stem_relu", "block1_relu1", "block1_relu2", "block2_relu1", "block2_relu2", "fc_readout"
    ]  # fmt: skip
    syn = {s.name: s for s in paths.synapses}
    assert len(syn) == 8 and len(paths.into("block1_relu2")) == 2  # conv + skip: an add
    pooled = syn["block2_conv1"]  # AvgPool1d(2) → Conv1d(k3, p1): one conv
    assert pooled.path == ("pool", "block2_conv1")
    assert (pooled.weight.shape[2], pooled.stride, pooled.padding) == (6, (2,), (2,))
    skip = syn["block1_relu2_to_block2_relu2"]  # pool → scale → add: a depthwise conv
    assert skip.groups == 32 and skip.weight.shape == (32, 1, 2) and skip.stride == (2,)
    assert syn["stem_relu_to_block1_relu2"].groups == 32
    assert syn["fc"].kind == "dense" and syn["fc"].weight.shape == (10, 640)


def test_two_padded_convolutions_in_a_row_are_named():
    """A conv reading a padded conv without a neuron between: the inner padding is not one
    convolution's; the error names the path."""
    r = np.random.default_rng(0)
    b = DagBuilder((1, 6, 6))
    c1 = b.add(ir.Conv2d(r.normal(size=(2, 1, 3, 3)), None, 1, 1), "x")
    c2 = b.add(ir.Conv2d(r.normal(size=(2, 2, 3, 3)), None, 1, 1), c1)
    g = b.graph(b.add(ir.IF(1.0, 0.0), c2))
    with pytest.raises(UnsupportedOpError, match=r"conv2d1 → conv2d2.*one synapse"):
        lower(g)


def test_unsupported_nodes_are_named_at_once():
    b = DagBuilder((1, 4, 4))
    m = b.add(ir.MaxPool2d(2, 2, 0), b.add(ir.IF(1.0, None), "x"))
    t = b.add(ir.Transpose((1, 3, 2)), m)  # H ↔ W: not a selection of channels
    f = b.add(ir.Flatten(), b.add(ir.AvgPool2d(1, 1, 0), t))
    g = b.graph(b.add(ir.Readout(), b.add(ir.Linear(np.ones((2, 4))), f)))
    with pytest.raises(UnsupportedOpError, match=r"maxpool2d\d.*per-step") as exc:
        lower(g)
    assert "2 node(s)" in str(exc.value)
    assert "'transpose3' (Transpose): rearranges elements" in str(exc.value)


def test_a_graph_must_end_with_neurons():
    b = DagBuilder((3,))
    g = b.graph(b.add(ir.Linear(np.ones((2, 3))), "x"))
    with pytest.raises(UnsupportedOpError, match="ends with neurons or a Readout"):
        lower(g)


@settings(max_examples=60, deadline=None)
@given(
    ka=st.integers(1, 4), sa=st.integers(1, 3), pa=st.integers(0, 2),
    kb=st.integers(1, 4), sb=st.integers(1, 3), pb=st.integers(0, 2),
    length=st.integers(6, 13), seed=st.integers(0, 2**16),
)  # fmt: skip
def test_two_convolutions_compose_exactly_or_are_refused(ka, sa, pa, kb, sb, pb, length, seed):
    """``B ∘ A`` as one convolution equals applying A then B whenever it is accepted. The
    refusal is conservative (B padding where A reads can be harmless, e.g. a 1-wide B);
    :func:`test_padding_between_convolutions_is_refused_where_it_matters` shows a case
    where composing naively would be wrong."""
    r = np.random.default_rng(seed)
    if length + 2 * pa < ka:
        return
    la = (length + 2 * pa - ka) // sa + 1
    if la + 2 * pb < kb:
        return
    lb = (la + 2 * pb - kb) // sb + 1
    wa, wb = r.normal(size=(3, 2, ka)), r.normal(size=(2, 3, kb))
    x = torch.tensor(r.normal(size=(2, 2, length)))
    want = F.conv1d(F.conv1d(x, torch.tensor(wa), None, sa, pa), torch.tensor(wb), None, sb, pb)
    a = ConvMap.identity((2, length)).then_conv(wa, (sa,), (pa,), (1,), (3, la))
    try:
        ab = a.then_conv(wb, (sb,), (pb,), (1,), (2, lb))
    except Uncomposable:
        return
    got = F.conv1d(x, torch.tensor(ab.weight), None, ab.stride, ab.padding, ab.dilation)
    torch.testing.assert_close(got, want)


def _naive(wa: np.ndarray, wb: np.ndarray, sa: int, pa: int, pb: int) -> np.ndarray:
    ka, kb = wa.shape[-1], wb.shape[-1]
    w = np.zeros((wb.shape[0], wa.shape[1], ka + (kb - 1) * sa))
    for m in range(kb):
        w[:, :, m * sa : m * sa + ka] += np.einsum("oc,cik->oik", wb[:, :, m], wa)
    return w


def test_padding_between_convolutions_is_refused_where_it_matters():
    r = np.random.default_rng(0)
    wa, wb = r.normal(size=(3, 2, 3)), r.normal(size=(2, 3, 3))
    x = torch.tensor(r.normal(size=(2, 2, 8)))
    want = F.conv1d(F.conv1d(x, torch.tensor(wa)), torch.tensor(wb), None, 1, 1)
    naive = F.conv1d(x, torch.tensor(_naive(wa, wb, 1, 0, 1)), None, 1, 1)
    assert naive.shape == want.shape and not torch.allclose(naive, want)
    a = ConvMap.identity((2, 8)).then_conv(wa, (1,), (0,), (1,), (3, 6))
    with pytest.raises(Uncomposable, match="pads where the first one reads"):
        a.then_conv(wb, (1,), (1,), (1,), (2, 6))


def test_an_adaptive_pool_that_repeats_cells_folds_into_the_linear_layer():
    """AlexNet and VGG on small inputs: a 1×1 map pooled adaptively to 2×2 repeats each
    value four times; the dense synapse after the flatten sums the four columns."""
    r = np.random.default_rng(0)
    w = r.normal(size=(4, 12))
    g = chain(
        (2, 3, 3),
        ir.Conv2d(r.normal(size=(3, 2, 3, 3)), None, 1, 0),
        ir.IF(1.0, None),
        ir.AdaptiveAvgPool2d((2, 2)),
        ir.Flatten(),
        ir.Linear(w),
        ir.Readout(),
    )
    (syn,) = [s for s in lower(g).synapses if s.dst == "n5"]
    np.testing.assert_allclose(syn.weight, w.reshape(4, 3, 4).sum(-1), rtol=1e-6)


class DenseBlock(torch.nn.Module):
    """DenseNet's pattern: every layer's BN → ReLU reads the concat of all earlier outputs."""

    def __init__(self, c: int = 4, growth: int = 3, layers: int = 3) -> None:
        super().__init__()
        nn = torch.nn
        self.stem = nn.Sequential(nn.Conv2d(2, c, 3, padding=1), nn.ReLU())
        self.layers = nn.ModuleList(
            nn.Sequential(
                nn.BatchNorm2d(c + i * growth),
                nn.ReLU(),
                nn.Conv2d(c + i * growth, growth, 3, padding=1),
            )
            for i in range(layers)
        )
        end = c + layers * growth
        self.head = nn.Sequential(
            nn.BatchNorm2d(end), nn.ReLU(), nn.Flatten(), nn.Linear(end * 16, 5)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [self.stem(x)]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, 1)))
        return self.head(torch.cat(feats, 1))


def test_neurons_reading_a_concat_are_split_per_part():
    """DenseNet's BN → ReLU on a growing concat: one population per concatenated part, each
    synapse its own map (no rows of zeros for the other parts' channels), and every neuron
    still gets exactly what the graph computes."""
    torch.manual_seed(0)
    model = DenseBlock().eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):  # BN statistics that are not the identity
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
    x = torch.randn(8, 2, 4, 4)
    snn = ann2snn(model, [x], T=None, v_init=0.0, neuron="if").snn
    paths = lower(snn)
    parts = [p for p in paths.populations.values() if p.part_of is not None]
    assert len(parts) == 2 + 3 + 4  # layers 2, 3 and the head read 2, 3 and 4 parts
    for s in paths.synapses:
        dst = paths.populations[s.dst]
        if dst.part_of is not None and s.kind == "conv":
            assert s.weight.shape[0] == dst.shape[0]  # the part's channels only
    assert_synapses_compute_the_graph(snn, paths, x[:3].double())


def test_a_convolution_after_a_population_is_its_own_weight():
    """A population's identity map composed with a convolution is the convolution's weight,
    bit for bit (what the general channel mix computes, without its C³ product)."""
    r = np.random.default_rng(0)
    w = r.normal(size=(6, 8, 3, 3))
    ident = ConvMap.identity((8, 5, 5))
    assert ident.is_identity() and not ConvMap.identity((8, 5, 5)).then_scale(2.0).is_identity()
    got = ident.then_conv(w, (1, 1), (1, 1), (1, 1), (6, 5, 5))
    mixed = np.moveaxis(np.tensordot(w, ident.weight[..., 0, 0], ([1], [0])), -1, 1)
    np.testing.assert_array_equal(got.weight, mixed)
    assert (got.in_shape, got.padding) == ((8, 5, 5), (1, 1))
