"""Random small feed-forward SNN graphs for the Lava target tests (no Lava import)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph
from sjconvert.targets.lava.fixed_point import LoihiLayer, LoihiNet
from tests.conftest import chain


def _neuron(r: np.random.Generator, kind: str) -> ir.Node:
    theta = float(r.uniform(0.5, 1.5))
    if kind == "lif":
        return ir.LIF(float(r.uniform(1.5, 8.0)), theta, 0.0, bool(r.integers(2)))
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


def conv_dense_net(r: np.random.Generator, bias: bool = True) -> LoihiNet:
    """A hand-made integer net: asymmetric conv (kernel 3×2, stride 1×2, padding 1×0, bias)
    into a leaky dense layer, input ``[2, 6, 5]``."""
    conv = LoihiLayer(
        "conv",
        "conv",
        r.integers(-20, 41, (6, 2, 3, 2)),
        (2, 6, 5),
        (6, 6, 2),
        vth=2000,
        bias=r.integers(-3, 5, 6) if bias else None,
        stride=(1, 2),
        padding=(1, 0),
    )
    dense = LoihiLayer(
        "dense",
        "dense",
        r.integers(-91, 127, (5, 72)),
        (72,),
        (5,),
        vth=150,
        i_decay=1000,
        v_decay=100,
    )
    return LoihiNet((2, 6, 5), (conv, dense))
