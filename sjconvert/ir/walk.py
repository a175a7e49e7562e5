"""One graph walker: follow a value backwards to its producer, or forwards to its reader,
through the ops a caller calls transparent (a node trait, e.g. ``lambda n: n.movement``).

Both walks stop where the chain forks: backwards at a node with several inputs (unless
``branch`` follows each), forwards where a value has several readers or is a graph output.
They work on a :class:`~.graph.Graph` and on a :class:`~.graph.GraphEditor` alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .nodes import Node

Through = Callable[[Node], bool]


class GraphLike(Protocol):
    nodes: Any
    edges: Any
    outputs: Any

    def consumers(self, name: str) -> list[str]: ...


def back(g: GraphLike, name: str, through: Through) -> tuple[str, list[str]]:
    """From ``name``, step to the (single) input while the node passes ``through``.

    Returns the first node that does not pass, and the transparent nodes walked over
    (``name`` first). A transparent node with several inputs ends the walk at itself."""
    path: list[str] = []
    while through(g.nodes[name]) and len(g.edges[name]) == 1:
        path.append(name)
        name = g.edges[name][0]
    return name, path


def forward(g: GraphLike, name: str, through: Through) -> tuple[str | None, list[str]]:
    """From ``name``, step to its only reader while that reader passes ``through``.

    Returns the first reader that does not pass (None where the chain forks, ends or
    reaches a graph output) and the transparent readers walked over, in order."""
    path: list[str] = []
    while name not in g.outputs:
        readers = g.consumers(name)
        if len(readers) != 1:
            return None, path
        name = readers[0]
        if not through(g.nodes[name]):
            return name, path
        path.append(name)
    return None, path


def producers(g: GraphLike, name: str, through: Through) -> list[str]:
    """Every node that feeds ``name`` through transparent nodes, branching at nodes with
    several inputs (an ``Add`` of two paths yields both producers)."""
    found: list[str] = []
    stack = [name]
    while stack:
        n = stack.pop()
        if through(g.nodes[n]):
            stack.extend(reversed(g.edges[n]))
        else:
            found.append(n)
    return found


def ancestors(g: GraphLike, name: str) -> set[str]:
    """``name`` and every node it depends on."""
    need: set[str] = set()
    stack = [name]
    while stack:
        n = stack.pop()
        if n not in need:
            need.add(n)
            stack.extend(g.edges[n])
    return need


def temporal(g: GraphLike) -> set[str]:
    """Nodes whose value changes over time: stateful nodes, sequence inputs and everything
    they feed. The others are static (computed once from the direct input)."""
    found: set[str] = set()
    for name, node in g.nodes.items():
        ins = g.edges[name]
        if node.stateful or getattr(node, "sequence", False) or any(s in found for s in ins):
            found.add(name)
    return found
