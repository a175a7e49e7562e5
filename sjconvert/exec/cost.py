"""What a spiking graph costs, in one place: the fan-out of every neuron (synaptic connections
one spike drives), the multiply-accumulates of its synapses, and the energy estimate.

* **Fan-out.** For each element of a spiking layer, the weights that read it in every synapse
  it reaches through linear data movement (reshapes, pools, scales, adds, concats, the
  cumulative max pooling), plus one for each neuron or readout it reaches without a synapse
  (a residual add). Computed once per graph as ``Jᵀ·1`` of the path-counting version of
  that part of the graph (each weight replaced by 1 where it is non-zero, pools by sums), so
  overlapping pooling windows count each path. A spike of ``k`` (a burst) counts ``k``.
* **Synaptic operations** after t steps: ``Σ_{t' ≤ t} Σ_i |S_i[t']|·fanout_i`` — accumulates.
* **MACs.** A synapse with ``F`` inputs per output and ``M`` outputs costs ``M·F``
  multiply-accumulates per sample; the ANN's total is the sum over its synapses. In the SNN
  the synapses that read the direct input (static values) run once per inference, as
  multiply-accumulates (a target that recomputes them every step pays ``T`` times that).
* **Energy:** ``E_AC·SOPs + E_MAC·MACs_static`` with ``E_AC = 0.9 pJ`` and ``E_MAC = 4.6 pJ``
  (45 nm CMOS, Horowitz 2014, the figures SNN papers use); the ANN's is ``E_MAC·MACs``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ..ir import nodes as ir
from ..ir import walk
from ..ir.graph import Graph
from ..ops import entry, prepare

E_AC = 0.9e-12  # J per accumulate
E_MAC = 4.6e-12  # J per multiply-accumulate


def synapse_macs(graph: Graph, name: str) -> int:
    """Multiply-accumulates of synapse ``name`` for one sample."""
    node = graph.nodes[name]
    w = node.weight
    per_output = math.prod(w.shape[1:])  # inputs per output (per group for convolutions)
    outputs = math.prod(graph.shapes[name])
    return int(outputs * per_output)


def macs(graph: Graph) -> int:
    """Multiply-accumulates of every synapse for one sample (an ANN pass)."""
    return sum(synapse_macs(graph, n) for n, node in graph if node.synapse)


def static_macs(graph: Graph) -> int:
    """Multiply-accumulates of the synapses that read static values (once per inference)."""
    moving = walk.temporal(graph)
    return sum(synapse_macs(graph, n) for n, node in graph if node.synapse and n not in moving)


def fanouts(graph: Graph) -> dict[str, np.ndarray]:
    """The fan-out of every element of every spiking layer (its per-sample shape)."""
    return {n: _fanout(graph, n) for n, node in graph if node.spiking}


def _receives(node: ir.Node) -> bool:
    """A node where a spike's path ends: a synapse, a neuron, an integrator, an op on
    accumulated values (its running mean adds the spike in)."""
    if node.accumulated:
        return True
    return not (node.linear or node.pool or node.identity or node.affine or node.sums)


def _path_counts(graph: Graph, name: str, node: ir.Node, xs: list[torch.Tensor]) -> torch.Tensor:
    """The path-counting version of a transparent node (or a synapse) on ``xs``."""
    if node.sums:
        return sum(xs[1:], xs[0])
    if node.affine or (node.elementwise and node.linear):  # one path per element
        return xs[0]
    if node.pool:
        return _sum_pool(graph, name, node, xs[0])
    if node.synapse:
        node = node.evolve(weight=(node.weight != 0).astype(np.float32), bias=None)
    found = entry(node)
    assert found is not None, f"no kernel for {node.op}"
    shapes = [graph.shapes[s] for s in graph.edges[name]]
    return found.fn(prepare(node, shapes), xs)


def _sum_pool(graph: Graph, name: str, node: ir.Node, x: torch.Tensor) -> torch.Tensor:
    """Each output of a pool reads each input of its window once."""
    out = graph.shapes[name][1:]
    if node.adaptive:
        fn = F.adaptive_avg_pool1d if node.dims == 1 else F.adaptive_avg_pool2d
        ratio = math.prod(graph.shapes[graph.edges[name][0]][1:]) / math.prod(out)
        return fn(x, node.output_size) * max(1.0, ratio)
    fn = F.avg_pool1d if node.dims == 1 else F.avg_pool2d
    k = node.kernel_size
    y = fn(x, k, node.stride, node.padding, node.ceil_mode, True)
    return y * math.prod(k)


def _fanout(graph: Graph, source: str) -> np.ndarray:
    """``Jᵀ·1`` of the path counts from ``source`` to the nodes receiving its spikes."""
    x = torch.ones((1, *graph.shapes[source]), requires_grad=True)
    values: dict[str, torch.Tensor] = {source: x}
    total = torch.zeros(())
    with torch.enable_grad():
        for name, node in graph:
            ins = graph.edges[name]
            if name in values or not any(s in values for s in ins):
                continue
            xs = [values.get(s, torch.zeros((1, *graph.shapes[s]))) for s in ins]
            if node.synapse:
                total = total + _path_counts(graph, name, node, xs).sum()
            elif _receives(node):
                total = total + sum(v.sum() for v in xs)
            else:
                values[name] = _path_counts(graph, name, node, xs)
        if not total.requires_grad:
            return np.zeros(graph.shapes[source], np.float32)
        (grad,) = torch.autograd.grad(total, x)
    return grad[0].numpy().astype(np.float32)
