"""The part of a graph that computes one value from the values carried so far.

A *segment* is the sub-graph between a set of carried values (the *frontier*: graph inputs
and the neuron layers already calibrated) and one target value, with the frontier values it
reads as its inputs. The calibration evaluates each segment once per chunk of samples — the
spiking one over all steps with the interpreter of :mod:`sjconvert.exec.schedule`, the ANN
one in rate mode — so every node of the network is computed a fixed number of times,
whatever its depth.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

import torch

from ...exec.reference import Simulator, TorchBackend
from ...exec.schedule import Schedule
from ...ir import nodes as ir
from ...ir.graph import Graph


def segment(
    graph: Graph, target: str, frontier: Collection[str], temporal: Collection[str]
) -> Graph:
    """The nodes ``target`` depends on up to the frontier, which become inputs (``sequence``
    where the value is ``temporal``); ``target`` is the only output."""
    need: set[str] = set()
    reads: set[str] = set()
    stack = [target]
    while stack:
        n = stack.pop()
        if n in need or n in reads:
            continue
        if (n in frontier and n != target) or isinstance(graph.nodes[n], ir.Input):
            reads.add(n)
            continue
        need.add(n)
        stack.extend(graph.edges[n])
    nodes: dict[str, ir.Node] = {}
    for n, node in graph:
        if n in reads:
            nodes[n] = ir.Input(shape=graph.shapes[n], sequence=n in temporal)
        elif n in need:
            nodes[n] = node
    edges = {n: () if n in reads else graph.edges[n] for n in nodes}
    shapes = {n: graph.shapes[n] for n in nodes}
    return Graph(nodes, edges, (target,), shapes, graph.meta)


def carried_values(
    snn: Graph, segments: Mapping[str, Graph], frontier: Collection[str], size: int, budget: int
) -> set[str]:
    """Values that several targets' segments would each compute again through a synapse
    (DenseNet's features, read by the concatenation of every later layer of their block):
    carried like spikes, as float32, so that each node runs once per chunk. In topological
    order, while those alive at once fit ``budget`` bytes, each taking ``size`` bytes per
    value (the others are computed again, as before). ``segments``: each target's segment
    from ``frontier``."""
    order = {n: i for i, (n, _) in enumerate(snn)}
    readers: dict[str, list[int]] = {}
    for name, seg in segments.items():
        for n, node in seg:
            if not isinstance(node, ir.Input):
                readers.setdefault(n, []).append(order[name])
    reached, alive, carried = set(frontier), [], set()
    for n in sorted((n for n, r in readers.items() if len(r) > 1), key=order.__getitem__):
        if not any(node.synapse for _, node in segment(snn, n, reached, reached)):
            continue
        nbytes = size * math.prod(snn.shapes[n])
        alive = [(end, b) for end, b in alive if end > order[n]]
        if sum(b for _, b in alive) + nbytes <= budget:
            carried.add(n)
            reached.add(n)
            alive.append((max(readers[n]), nbytes))
    return carried


class SpikingSegment:
    """A segment of the SNN run over ``steps`` steps for one chunk of samples at a time."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.schedule = Schedule(graph, TorchBackend(graph, torch.float32, torch.device("cpu")))
        self.size = sum(1 for _, node in graph if not isinstance(node, ir.Input))

    def __call__(self, values: dict[str, torch.Tensor], steps: int) -> tuple[torch.Tensor, bool]:
        """The target's value ``[T, n, ...]`` (temporal) or ``[n, ...]`` (static) from the
        input values (``[T, n, ...]`` for sequence inputs, ``[n, ...]`` otherwise)."""
        seq = {n for n in self.graph.inputs if self.graph.nodes[n].sequence}  # type: ignore[attr-defined]
        inputs = {n: (v, True) for n, v in values.items() if n in seq}
        static = {n: v for n, v in values.items() if n not in seq}
        with torch.no_grad():
            out = self.schedule.block(inputs, steps, {}, static, None)
        return out[self.graph.outputs[0]]


class AnnSegment:
    """A segment of the ANN run in rate mode for one chunk of samples at a time."""

    def __init__(self, graph: Graph) -> None:
        self.sim = Simulator(graph)
        self.size = sum(1 for _, node in graph if not isinstance(node, ir.Input))

    def __call__(self, values: dict[str, torch.Tensor]) -> torch.Tensor:
        g = self.sim.graph
        out = self.sim.rate(*[values[n] for n in g.inputs], keep=set())
        return out[g.outputs[0]]
