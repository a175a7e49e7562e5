"""What is spike-driven in a spiking graph, and the work that is not, in one place.

Each node is one of:

* **spike-driven** — a synapse all of whose time-varying inputs are spikes (reached through
  routing: data movement, pools, scales, adds, concatenations): its work is accumulates,
  one per spike and weight (the synaptic operations of :mod:`.cost`);
* **dense** — a synapse reading a time-varying value that is not spikes (a current, a
  running mean), or a product of two time-varying values (``MatMul``, ``Mul``): its
  multiply-accumulates run at every step;
* **nonlinear** — an op on accumulated values (GELU, LayerNorm, softmax, the running means
  and compensations around them): one evaluation per output value and step;
* **static** — anything computed from the direct input alone: once per inference.

Routing ops and neurons themselves are not counted (a neuron's update is the same on every
core). The fraction of operations that is spike-driven after ``T`` steps is::

    SOPs_T / (SOPs_T + T·(dense MACs + evaluations) + static MACs + static evaluations)

with the measured synaptic operations ``SOPs_T``; without data (``inspect``), every
spike-driven synapse is counted at its dense MACs per step (the most it can cost).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..ir import nodes as ir
from ..ir import walk
from ..ir.graph import Graph

SPIKE_DRIVEN, DENSE, NONLINEAR, STATIC, ROUTING = (
    "spike-driven",
    "dense",
    "nonlinear",
    "static",
    "routing",
)


@dataclass(frozen=True)
class Workload:
    """Per sample: each node's kind and the work of the kinds that are not spike-driven."""

    kinds: dict[str, str] = field(default_factory=dict)
    spike_macs: int = 0  # dense MACs of the spike-driven synapses (the most they cost)
    dense_macs: int = 0  # per step
    evaluations: int = 0  # per step
    static_ops: int = 0  # once

    def fraction(self, steps: int, synops: float | None = None) -> float:
        """Share of the operations after ``steps`` steps that is spike-driven (with the
        measured synaptic operations ``synops``, else every spike-driven synapse at its
        dense cost)."""
        spiking = self.spike_macs * steps if synops is None else synops
        other = steps * (self.dense_macs + self.evaluations) + self.static_ops
        total = spiking + other
        return spiking / total if total else 1.0

    def to_dict(self) -> dict[str, int]:
        return {
            "spike_driven_macs_per_step": self.spike_macs,
            "dense_macs_per_step": self.dense_macs,
            "nonlinear_evaluations_per_step": self.evaluations,
            "static_operations": self.static_ops,
        }


def _routing(node: ir.Node) -> bool:
    """Ops that only carry values on (movement, identity, sums, linear maps other than the
    running sums of cumulative pooling): spikes stay spikes through them."""
    moving = node.movement or node.identity or node.sums
    return moving or (node.linear and not node.cumulative and not node.stateful)


def _driven_by_spikes(graph: Graph, name: str, temporal: set[str]) -> bool:
    """Every time-varying value reaching ``name`` through routing ops is spikes."""
    found = [
        p for s in graph.edges[name] for p in walk.producers(graph, s, _routing) if p in temporal
    ]
    return bool(found) and all(graph.nodes[p].spiking for p in found)


def _macs(graph: Graph, name: str, node: ir.Node) -> int:
    out = math.prod(graph.shapes[name])
    if node.synapse:
        return out * math.prod(node.weight.shape[1:])
    if node.product and node.contracts:
        return out * graph.shapes[graph.edges[name][0]][-1]
    return out


def workload(graph: Graph) -> Workload:
    """Classify every node of ``graph`` (shapes recorded) and total the work (module doc)."""
    temporal = walk.temporal(graph)
    kinds: dict[str, str] = {}
    totals = {SPIKE_DRIVEN: 0, DENSE: 0, NONLINEAR: 0, STATIC: 0}
    for name, node in graph:
        if isinstance(node, ir.Input) or node.spiking or _routing(node):
            kinds[name] = ROUTING
            continue
        if not (node.synapse or node.affine or node.accumulated):
            kinds[name] = ROUTING
            continue
        if name not in temporal:
            kind = STATIC
        elif node.synapse or node.affine:
            kind = SPIKE_DRIVEN if _driven_by_spikes(graph, name, temporal) else DENSE
        elif node.product:
            kind = DENSE  # a product: multiply-accumulates at every step
        else:
            kind = NONLINEAR
        kinds[name] = kind
        totals[kind] += _macs(graph, name, node)
    return Workload(kinds, totals[SPIKE_DRIVEN], totals[DENSE], totals[NONLINEAR], totals[STATIC])
