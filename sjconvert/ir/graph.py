"""The IR graph: named nodes in topological order, each with its ordered input names.

A :class:`Graph` is immutable. Passes edit a :class:`GraphEditor` copy and freeze it again,
so a pass never mutates its input. An inconsistent graph (an edge to an unknown node, a
wrong number of inputs, input shapes a node cannot take) raises :class:`GraphError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from .nodes import Input, Node


class GraphError(ValueError):
    """A graph whose nodes, edges, outputs or shapes do not fit together."""


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, eq=False)
class Graph:
    """Nodes (insertion order is a topological order), edges and graph outputs.

    ``edges[name]`` lists the inputs of node ``name`` in argument order; ``shapes[name]``
    is the per-sample output shape (batch axis excluded); ``meta`` holds JSON-able facts
    derived once (conversion settings, per-layer scales).
    """

    nodes: Mapping[str, Node]
    edges: Mapping[str, tuple[str, ...]]
    outputs: tuple[str, ...]
    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", _frozen(self.nodes))
        object.__setattr__(self, "edges", _frozen({k: tuple(v) for k, v in self.edges.items()}))
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(self, "shapes", _frozen({k: tuple(v) for k, v in self.shapes.items()}))
        object.__setattr__(self, "meta", _frozen(self.meta))
        readers: dict[str, list[str]] = {n: [] for n in self.nodes}
        for n, ins in self.edges.items():
            for i in dict.fromkeys(ins):
                readers.setdefault(i, []).append(n)
        object.__setattr__(self, "_readers", {k: tuple(v) for k, v in readers.items()})
        self.validate()

    # -- queries -------------------------------------------------------------------------
    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(n for n, node in self.nodes.items() if isinstance(node, Input))

    def __iter__(self) -> Iterator[tuple[str, Node]]:
        return iter(self.nodes.items())

    def __len__(self) -> int:
        return len(self.nodes)

    def consumers(self, name: str) -> list[str]:
        """The nodes that read ``name``, in graph order (each once)."""
        return list(self._readers.get(name, ()))  # type: ignore[attr-defined]

    def uses(self, name: str) -> int:
        """How many times the value is read (edges and graph outputs)."""
        reads = sum(self.edges[c].count(name) for c in self.consumers(name))
        return reads + self.outputs.count(name)

    def has_shapes(self) -> bool:
        return all(name in self.shapes for name in self.nodes)

    def validate(self) -> None:
        """Check names, edge targets, topological order, arity, outputs and, where shapes
        are recorded, that every node can take its inputs' shapes."""
        seen: set[str] = set()
        for name, node in self.nodes.items():
            if not isinstance(node, Node):
                raise GraphError(f"graph: '{name}' is a {type(node).__name__}, not an IR node")
            ins = self.edges.get(name, ())
            missing = [i for i in ins if i not in seen]
            if missing:
                raise GraphError(
                    f"graph: node '{name}' reads {missing} which are not defined before it"
                )
            if node.arity is None:
                if not ins:
                    raise GraphError(f"graph: node '{name}' ({node.op}) has no inputs")
            elif len(ins) != node.arity:
                raise GraphError(
                    f"graph: node '{name}' ({node.op}) takes {node.arity} inputs, has {len(ins)}"
                )
            if ins and all(i in self.shapes for i in ins):
                try:
                    node.check_inputs([self.shapes[i] for i in ins])
                except ValueError as exc:
                    raise GraphError(f"graph: node '{name}' ({node.op}): {exc}") from None
            seen.add(name)
        extra = set(self.edges) - seen
        if extra:
            raise GraphError(f"graph: edges for unknown nodes {sorted(extra)}")
        if not self.outputs or any(o not in seen for o in self.outputs):
            raise GraphError(f"graph: outputs {list(self.outputs)} must name existing nodes")

    def fingerprint(self) -> str:
        """A digest of the structure and every parameter: equal graphs give equal digests
        (processes of a sharded run check they hold the same model with it)."""
        h = hashlib.sha1()
        h.update(
            repr((list(self.edges.items()), self.outputs, sorted(self.shapes.items()))).encode()
        )
        for name, node in self.nodes.items():
            h.update(f"{name}:{node.op}".encode())
            for key, value in node.params().items():
                if isinstance(value, np.ndarray):
                    h.update(key.encode() + np.ascontiguousarray(value).tobytes())
                else:
                    h.update(f"{key}={value!r}".encode())
        return h.hexdigest()

    def where(self, name: str) -> str:
        """A node's name for messages, with the module path it was captured from."""
        path = self.meta.get("source", {}).get(name)
        return f"'{name}' (module {path})" if path and path != name else f"'{name}'"

    def editor(self) -> GraphEditor:
        return GraphEditor(self)

    def with_meta(self, **items: Any) -> Graph:
        return Graph(self.nodes, self.edges, self.outputs, self.shapes, {**self.meta, **items})

    def with_shapes(self, shapes: Mapping[str, tuple[int, ...]]) -> Graph:
        return Graph(self.nodes, self.edges, self.outputs, shapes, self.meta)


class GraphEditor:
    """A mutable working copy of a graph, for passes."""

    def __init__(self, graph: Graph) -> None:
        self.nodes: dict[str, Node] = dict(graph.nodes)
        self.edges: dict[str, tuple[str, ...]] = dict(graph.edges)
        self.outputs: list[str] = list(graph.outputs)
        self.shapes: dict[str, tuple[int, ...]] = dict(graph.shapes)
        self.meta: dict[str, Any] = dict(graph.meta)

    def consumers(self, name: str) -> list[str]:
        return [n for n, ins in self.edges.items() if name in ins]

    def uses(self, name: str) -> int:
        """How many times the value is read (edges and graph outputs)."""
        return sum(ins.count(name) for ins in self.edges.values()) + self.outputs.count(name)

    def replace_uses(self, old: str, new: str) -> None:
        for n, ins in self.edges.items():
            self.edges[n] = tuple(new if i == old else i for i in ins)
        self.outputs = [new if o == old else o for o in self.outputs]

    def remove(self, name: str) -> None:
        """Remove a single-input node, wiring its consumers to its input."""
        (src,) = self.edges[name]
        del self.nodes[name], self.edges[name]
        self.shapes.pop(name, None)
        self.replace_uses(name, src)

    def insert_after(self, src: str, name: str, node: Node, only: Iterable[str] = ()) -> None:
        """Insert ``node`` reading ``src``; rewire the consumers in ``only`` (all if empty)."""
        if name in self.nodes:
            raise GraphError(f"graph: node name '{name}' already exists")
        targets = set(only) or set(self.consumers(src))
        for n in targets:
            self.edges[n] = tuple(name if i == src else i for i in self.edges[n])
        if not only:
            self.outputs = [name if o == src else o for o in self.outputs]
        items = list(self.nodes.items())
        items.insert([n for n, _ in items].index(src) + 1, (name, node))
        self.nodes = dict(items)
        self.edges[name] = (src,)
        if src in self.shapes:
            self.shapes[name] = self.shapes[src]

    def unique_name(self, base: str) -> str:
        name, k = base, 1
        while name in self.nodes:
            name, k = f"{base}_{k}", k + 1
        return name

    def freeze(self) -> Graph:
        edges = {n: self.edges.get(n, ()) for n in self.nodes}
        shapes = {n: s for n, s in self.shapes.items() if n in self.nodes}
        return Graph(self.nodes, edges, tuple(self.outputs), shapes, self.meta)
