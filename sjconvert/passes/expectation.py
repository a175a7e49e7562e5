"""Ops on accumulated values in a spiking graph (expectation compensation,
``docs/transformers.md``).

* :func:`encode_spikes` (ANN → ANN): an :class:`~sjconvert.ir.nodes.Encode` in front of
  every synapse that reads the result of a non-spiking op (GELU, LayerNorm, an attention
  product, a gated product, ...), through data movement and pooling. Conversion turns each
  into a bipolar burst neuron, so every such synapse is driven by spikes.
* :func:`expectation` (SNN → SNN): each value is *static* (the same every step), an
  *increment* stream (spikes, currents: its running mean is the value) or a *running mean*.
  Non-spiking ops read running means, so a :class:`~sjconvert.ir.nodes.RunningMean` goes in
  front of each that reads increments, and a :class:`~sjconvert.ir.nodes.Compensate` after
  each whose result feeds increments again (a neuron, a readout, an add of currents).
  Linear ops (synapses, data movement, adds, a product with a static factor) commute with
  the running mean and keep their input's domain, so between two non-spiking ops nothing is
  converted. ``Compensate(f(RunningMean(X)))`` has running mean ``f(X̄_t)`` at every step
  ``t``: exact in the limit, for any ``f``.

Both are the identity on graphs without non-spiking ops.
"""

from __future__ import annotations

from ..ir import nodes as ir
from ..ir import walk
from ..ir.graph import Graph, GraphEditor

STATIC, INCREMENT, MEAN = "static", "increment", "mean"


def _routing(node: ir.Node) -> bool:
    """Ops whose result is of its input's kind: data movement, identities and pools (a max
    pool of values computed on accumulated values is such a value too)."""
    return node.movement or node.identity or node.pool


def encode_spikes(graph: Graph) -> Graph:
    """Insert an :class:`~ir.Encode` right before every synapse whose input comes, through
    routing ops, from a non-spiking op (module docstring)."""
    ed = graph.editor()
    changed = False
    for name, node in graph:
        if not node.synapse:
            continue
        (src,) = graph.edges[name]
        origin, _ = walk.back(graph, src, _routing)
        if graph.nodes[origin].accumulated:
            ed.insert_after(src, ed.unique_name(f"{name}_spikes"), ir.Encode(), only=[name])
            changed = True
    return ed.freeze() if changed else graph


def _linear_in(node: ir.Node, static: list[bool]) -> bool:
    """Whether ``node`` commutes with the running mean of its time-varying inputs."""
    if node.product:
        return sum(static) >= 1  # linear in one factor when the other is static
    if node.stateful or node.spiking or node.accumulated or isinstance(node, ir.Readout):
        return False
    affine = node.synapse or node.affine or node.linear or node.movement or node.identity
    return affine or node.sums or isinstance(node, ir.Constant)


def expectation(graph: Graph) -> Graph:
    """Insert running means and compensations around the non-spiking ops (module doc).
    A graph that has them already is returned as it is."""
    done = any(node.accumulated and node.stateful for _, node in graph)  # means placed
    if done or not any(node.accumulated for _, node in graph):
        return graph
    temporal = walk.temporal(graph)
    ed = graph.editor()
    domain: dict[str, str] = {}
    cache: dict[tuple[str, str], str] = {}
    for name, node in graph:
        ins = graph.edges[name]
        if name not in temporal or isinstance(node, ir.Input):
            domain[name] = STATIC if name not in temporal else INCREMENT
            continue
        moving = [s for s in ins if domain[s] != STATIC]
        if _linear_in(node, [s not in moving for s in ins]):
            kinds = {domain[s] for s in moving}
            want = kinds.pop() if len(kinds) == 1 else INCREMENT
        else:
            want = MEAN if node.accumulated and not node.stateful else INCREMENT
        for src in moving:
            if domain[src] != want:
                _convert(ed, src, name, want, cache)
        domain[name] = want
    for o in [o for o in graph.outputs if domain.get(o) == MEAN]:
        ed.insert_after(o, ed.unique_name(f"{o}_increments"), ir.Compensate())
    return ed.freeze()


def _convert(ed: GraphEditor, src: str, dst: str, want: str, cache: dict) -> None:
    """Make ``dst`` read ``src`` in domain ``want`` through one shared conversion node."""
    key = (src, want)
    if key not in cache:
        cls, suffix = (ir.RunningMean, "mean") if want == MEAN else (ir.Compensate, "increments")
        cache[key] = ed.unique_name(f"{src}_{suffix}")
        ed.insert_after(src, cache[key], cls(), only=[dst])
    else:
        ed.edges[dst] = tuple(cache[key] if s == src else s for s in ed.edges[dst])
