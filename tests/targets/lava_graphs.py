"""Random small spiking graphs for the Lava target tests (no Lava import): chains, and DAGs
with residual adds, scaled skips, concatenation, average pools, Conv1d and Conv2d; and a
small ShuffleNet V2 (channel shuffle and split) as a torch module; a skip that needs a
delay chain."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st
from torch import nn

from sjconvert.exec.shapes import with_shapes
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph
from sjconvert.targets.lava.network import LoihiNet, Neuron, Paths, Population, Synapse
from tests.conftest import chain


def _neuron(r: np.random.Generator, kind: str) -> ir.Node:
    theta = float(r.uniform(0.5, 1.5))
    if kind == "lif":
        return ir.LIF(float(r.uniform(1.5, 4.0)), theta, 0.0, bool(r.integers(2)))
    if kind == "soft":
        return ir.IF(theta, None)
    return ir.IF(theta, 0.0)


@st.composite
def snn_chains(draw: st.DrawFn) -> tuple[Graph, np.random.Generator]:
    """A chain ``[Conv2d → neuron]* → Flatten → [Linear → neuron]+`` (neuron: hard-reset IF
    or LIF; the last one may be a Readout), with random weights and optional biases."""
    seed = draw(st.integers(0, 2**31 - 1))
    r = np.random.default_rng(seed)
    n_conv = draw(st.integers(0, 2))
    n_dense = draw(st.integers(1, 2))
    kinds = draw(st.lists(st.sampled_from(["if", "lif"]), min_size=4, max_size=4))
    readout = draw(st.booleans())
    c, hw = int(r.integers(1, 3)), int(r.integers(4, 7))
    shape: tuple[int, ...] = (c, hw, hw)
    layers: list[ir.Node] = []
    for i in range(n_conv):
        out = int(r.integers(2, 5))
        k, stride, pad = int(r.integers(1, 4)), int(r.integers(1, 3)), int(r.integers(0, 2))
        k = min(k, hw + 2 * pad)
        w = r.normal(0.3, 0.6, (out, c, k, k)).astype(np.float32)
        bias = r.normal(0, 0.1, out) if r.integers(2) else None
        layers += [ir.Conv2d(w, bias, stride, pad), _neuron(r, kinds[i])]
        c, hw = out, (hw + 2 * pad - k) // stride + 1
    features = c * hw * hw
    if n_conv:
        layers.append(ir.Flatten())
    else:
        shape = (features,)
    for j in range(n_dense):
        n_out = int(r.integers(3, 7))
        bias = r.normal(0, 0.1, n_out) if r.integers(2) else None
        layers.append(ir.Linear(r.normal(0.2, 0.5, (n_out, features)), bias))
        last = j == n_dense - 1
        layers.append(ir.Readout() if last and readout else _neuron(r, kinds[2 + j]))
        features = n_out
    return chain(shape, *layers), r


class DagBuilder:
    """Adds named nodes to a graph under construction (``add`` returns the name)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.nodes: dict[str, ir.Node] = {"x": ir.Input(shape)}
        self.edges: dict[str, tuple[str, ...]] = {"x": ()}

    def add(self, node: ir.Node, *inputs: str) -> str:
        name = f"{node.op.lower()}{len(self.nodes)}"
        self.nodes[name], self.edges[name] = node, inputs
        return name

    def graph(self, out: str) -> Graph:
        return with_shapes(Graph(self.nodes, self.edges, (out,)))


def _conv(
    r: np.random.Generator, dims: int, c_in: int, c_out: int, k: int, pad: int, mean: float = 0.15
) -> ir.Node:
    w = r.normal(mean, 0.5, (c_out, c_in, *([k] * dims))).astype(np.float32)
    bias = r.normal(0, 0.1, c_out) if r.integers(2) else None
    cls = ir.Conv1d if dims == 1 else ir.Conv2d
    return cls(w, bias, 1, pad)


@st.composite
def snn_dags(draw: st.DrawFn, neuron: str = "if") -> tuple[Graph, np.random.Generator]:
    """``stem conv → neuron`` then one or two blocks, each a residual block (3-tap conv →
    neuron → conv, plus an identity or scaled skip, added), a concatenation of two branches
    (1- and 3-tap convs → neurons) read by a conv, or an average pool read by a conv and by
    a scaled skip; then ``Flatten → Linear → Readout``. Conv1d or Conv2d; ``neuron``:
    ``if`` (hard reset), ``lif`` or ``soft`` (converted: soft-reset IF)."""
    seed = draw(st.integers(0, 2**31 - 1))
    r = np.random.default_rng(seed)
    dims = draw(st.sampled_from([1, 2]))
    blocks = draw(st.lists(st.sampled_from(["res", "cat", "pool"]), min_size=1, max_size=2))
    size = 8 if dims == 2 else 12
    c = int(r.integers(2, 4))
    b = DagBuilder((int(r.integers(1, 3)), *([size] * dims)))
    cur = b.add(_conv(r, dims, b.nodes["x"].shape[0], c, 3, 1, mean=0.6), "x")
    cur = b.add(_neuron(r, neuron), cur)
    for kind in blocks:
        if kind == "res":
            h = b.add(_neuron(r, neuron), b.add(_conv(r, dims, c, c, 3, 1), cur))
            h = b.add(_conv(r, dims, c, c, 3, 1), h)
            skip = b.add(ir.Scale(r.uniform(0.3, 1.2, c)), cur) if r.integers(2) else cur
            cur = b.add(_neuron(r, neuron), b.add(ir.Add(), skip, h))
        elif kind == "cat":
            one = b.add(_neuron(r, neuron), b.add(_conv(r, dims, c, 2, 1, 0), cur))
            three = b.add(_neuron(r, neuron), b.add(_conv(r, dims, c, c, 3, 1), cur))
            cat = b.add(ir.Concat(1), one, three)
            c = c + 2
            cur = b.add(_neuron(r, neuron), b.add(_conv(r, dims, c, c, 3, 1), cat))
        elif size % 2 == 0:
            pool = b.add((ir.AvgPool1d if dims == 1 else ir.AvgPool2d)(2, 2, 0), cur)
            main = b.add(_conv(r, dims, c, c, 3, 1), pool)
            skip = b.add(ir.Scale(float(r.uniform(0.3, 1.0))), pool)
            cur = b.add(_neuron(r, neuron), b.add(ir.Add(), skip, main))
            size //= 2
    flat = b.add(ir.Flatten(), cur)
    n_in = c * size**dims
    lin = b.add(ir.Linear(r.normal(0.0, 0.3, (4, n_in)), r.normal(0, 0.1, 4)), flat)
    return b.graph(b.add(ir.Readout(), lin)), r


def conv_dense_net(r: np.random.Generator, bias: bool = True) -> LoihiNet:
    """A hand-made integer chain: asymmetric conv (kernel 3×2, stride 1×2, padding 1×0,
    bias) into a leaky dense layer with a current decay, input ``[2, 6, 5]``."""
    conv = Synapse(
        "conv", "x", "c", "conv", r.integers(-20, 41, (6, 2, 3, 2)), (1, 2), (1, 0), (1, 1)
    )
    dense = Synapse("dense", "c", "d", "dense", r.integers(-91, 127, (5, 72)))
    c_bias = np.broadcast_to(r.integers(-3, 5, 6)[:, None, None], (6, 6, 2)) if bias else 0
    neurons = {
        "c": Neuron("cuba", vth=2000, bias=np.asarray(c_bias)),
        "d": Neuron("cuba", vth=150, du=999, dv=100),
    }
    shapes = {"c": (6, 6, 2), "d": (5,)}
    return LoihiNet("x", (2, 6, 5), 1.0, shapes, neurons, (conv, dense), "d")


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """torchvision's ShuffleNet V2 channel shuffle: ``view → transpose → view``."""
    n, c, h, w = x.shape
    x = x.view(n, groups, c // groups, h, w)
    return torch.transpose(x, 1, 2).contiguous().view(n, -1, h, w)


class ShuffleNet(nn.Module):
    """ShuffleNet V2 in small: a stride-2 unit (two branches, concatenated) and two stride-1
    units (channel split, one branch on the second half, concatenated), each followed by the
    channel shuffle, so the first half's channels pass through two shuffles and splits
    without a neuron; then a 1×1 convolution, the global mean and a linear layer."""

    def __init__(self, width: int = 4, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        w = width
        self.stem = nn.Sequential(nn.Conv2d(2, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU())
        self.left = nn.Sequential(_dw(w, 2), nn.Conv2d(w, w, 1), nn.ReLU())
        self.right = nn.Sequential(nn.Conv2d(w, w, 1), nn.ReLU(), _dw(w, 2), nn.Conv2d(w, w, 1))
        self.right.append(nn.ReLU())
        self.units = nn.ModuleList(
            nn.Sequential(nn.Conv2d(w, w, 1), nn.ReLU(), _dw(w, 1), nn.Conv2d(w, w, 1), nn.ReLU())
            for _ in range(2)
        )
        self.head = nn.Sequential(nn.Conv2d(2 * w, 6, 1), nn.ReLU())
        self.fc = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = channel_shuffle(torch.cat([self.left(x), self.right(x)], 1), 2)
        for unit in self.units:
            a, b = x.chunk(2, dim=1)
            x = channel_shuffle(torch.cat([a, unit(b)], 1), 2)
        return self.fc(self.head(x).mean([2, 3]))


def _dw(c: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c, c, 3, stride, 1, groups=c), nn.BatchNorm2d(c))


def delayed_skip(shape: tuple[int, ...], long: int) -> Paths:
    """``x → a → b → c → d`` with ``a → b`` and ``b → c`` already delayed ``long`` steps and
    a skip ``a → d`` (``d = 2·a − skip`` on integers): the skip needs ``2·long + 2`` steps
    of delay from four populations. Signed IF neurons, θ = 1, large bursts, 1×1
    convolutions (dense for a flat shape): every value passes exactly."""
    c = shape[0]
    node = ir.SignedIF(1.0, 0.0, max_spikes=1 << 12)
    pops = {n: Population(n, node, shape, np.zeros(shape)) for n in "abcd"}

    def syn(name: str, src: str, dst: str, gain: float, delay: int = 0) -> Synapse:
        if len(shape) == 1:
            return Synapse(name, src, dst, "dense", gain * np.eye(c), delay=delay)
        w = gain * np.eye(c).reshape(c, c, *[1] * (len(shape) - 1))
        one = (1,) * (len(shape) - 1)
        return Synapse(name, src, dst, "conv", w, one, (0,) * len(one), one, delay=delay)

    synapses = (
        syn("in", "x", "a", 1.0),
        syn("ab", "a", "b", 1.0, long),
        syn("bc", "b", "c", 1.0, long),
        syn("cd", "c", "d", 2.0),
        syn("skip", "a", "d", -1.0),
    )
    return Paths("x", shape, pops, synapses, "d")
