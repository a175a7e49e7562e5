"""Which nodes of a graph run fused as one step program (:func:`sjconvert.ops.chain`).

A chain is a path ``n₁ → … → n_k`` (k ≥ 2) of element-wise nodes ending in a stateful node
with a step program, where every member before the last is a ``Scale`` or a non-spiking
stateful node (a running mean, an expectation compensation), is read by the next member
alone and is not a graph output. A converted transformer normalises each neuron's input and
compensates it (``Scale → Compensate → BipolarIF``): fused, the two intermediate values are
never written to memory. Events are counted for the last member, the only one that may
spike. A scalar ``Scale`` read only by an ``Add`` stays with the ``Add`` (it applies it).
"""

from __future__ import annotations

from ..ir.graph import Graph
from ..ops import StepProgram, chain, elementwise_program, has_program, in_chain


def _link(graph: Graph, name: str) -> str | None:
    """The member after ``name`` in a chain, or None."""
    node = graph.nodes[name]
    if name in graph.outputs or not in_chain(node) or (node.stateful and node.spiking):
        return None
    readers = graph.consumers(name)
    if len(readers) != 1:
        return None
    (nxt,) = readers
    after = graph.nodes[nxt]
    return nxt if in_chain(after) and graph.edges[nxt] == (name,) else None


def chains(graph: Graph) -> dict[str, tuple[str, ...]]:
    """Each chain by its last member: the members in order, first to last."""
    linked = {n: m for n, _ in graph if (m := _link(graph, n)) is not None}
    heads = set(linked) - set(linked.values())
    found: dict[str, tuple[str, ...]] = {}
    for head in heads:
        path = [head]
        while path[-1] in linked:
            path.append(linked[path[-1]])
        while path and not has_program(graph.nodes[path[-1]]):
            path.pop()  # a chain ends in a stateful node
        if len(path) >= 2:
            found[path[-1]] = tuple(path)
    return found


def chain_program(graph: Graph, members: tuple[str, ...]) -> StepProgram:
    """The one step program of a chain's members."""
    return chain([elementwise_program(graph.nodes[m]) for m in members])
