"""Shape inference, in one place: a graph that does not record every node's per-sample shape
gets them from one rate-mode pass of the kernels on ``meta`` tensors (no data, no compute)."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from ..errors import InputError
from ..ir import nodes as ir
from ..ir.graph import Graph, GraphError
from ..ops import entry, prepare


def node_shape(node: ir.Node, in_shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    """Per-sample output shape of ``node`` on inputs of ``in_shapes`` (ValueError if it
    cannot take them)."""
    node.check_inputs(in_shapes)
    found = entry(node, rate_mode=True)
    if found is None:
        raise ValueError(f"no kernel for {node.op}")
    p = prepare(node, in_shapes, device="meta", rate_mode=True)
    out = found.fn(p, [torch.empty((1, *s), device="meta") for s in in_shapes])
    return tuple(out.shape[1:])


def infer_shapes(
    graph: Graph, recorded: Mapping[str, tuple[int, ...]] | None = None
) -> dict[str, tuple[int, ...]]:
    """Per-sample output shape of every node of ``graph``; with ``recorded``, each node's
    shape is compared with the recorded one as soon as it is known (the first node whose
    record is wrong is named, not a later node that cannot take it)."""
    values: dict[str, torch.Tensor] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for name, node in graph:
        if isinstance(node, ir.Input):
            values[name] = torch.empty((1, *node.shape), device="meta")
        else:
            ins = graph.edges[name]
            try:
                node.check_inputs([shapes[s] for s in ins])
            except ValueError as exc:
                raise GraphError(f"graph: node '{name}' ({node.op}): {exc}") from None
            found = entry(node, rate_mode=True)
            if found is None:
                raise InputError(f"no kernel for {node.op} at '{name}'")
            p = prepare(node, [shapes[s] for s in ins], device="meta", rate_mode=True)
            values[name] = found.fn(p, [values[s] for s in ins])
        shapes[name] = tuple(values[name].shape[1:])
        want = (recorded or {}).get(name)
        if want is not None and want != shapes[name]:
            raise GraphError(
                f"graph: node '{name}' records shape {list(want)} but computes {list(shapes[name])}"
            )
    return shapes


def with_shapes(graph: Graph) -> Graph:
    """``graph``, with every shape recorded (inferred once where some are missing)."""
    if graph.has_shapes():
        return graph
    return graph.with_shapes(infer_shapes(graph))


def checked_shapes(graph: Graph) -> Graph:
    """``graph`` with every shape recorded, after checking the recorded ones against what
    the nodes compute (a graph read from a file may record shapes its nodes do not give)."""
    return graph.with_shapes(infer_shapes(graph, graph.shapes))
