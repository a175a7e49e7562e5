"""IR graph → ``nir.NIRGraph`` (and ``.nir`` files, written atomically).

Edges: every IR node becomes the NIR node of the same name, except the ops NIR expresses
by edges alone. An ``Add`` becomes one edge per summand into each of its consumers (a NIR
node sums all its incoming edges); ``Identity``/``Dropout`` pass their source on. Each graph
output gets a NIR ``Output`` node ``output`` (``output_<k>`` for several).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

import nir

from ...errors import EmitError, UnsupportedOpError
from ...exec.shapes import with_shapes
from ...ir import nodes as ir
from ...ir.graph import Graph
from ...ir.io import atomic_write
from . import lossy as lossy_maps
from .convention import DT
from .emitters import META_KEY, REGISTRY, ExportCtx
from .rewrite import fold_adaptive_pools


def by_edges(node: ir.Node) -> bool:
    """Ops NIR expresses by its edges alone: a sum (every NIR node sums its inputs) and
    identities."""
    return node.identity or isinstance(node, ir.Add)


def _check(graph: Graph, lossy: tuple[str, ...]) -> Graph:
    """Apply the exact rewrites (:mod:`.rewrite`) and the requested lossy mappings; refuse,
    naming every node, what NIR cannot hold."""
    graph = fold_adaptive_pools(with_shapes(graph))
    problems = [
        f"{', '.join(graph.where(n) for n in names)}: needs lossy mapping '{key}' "
        f"({lossy_maps.LOSSY[key].doc})"
        for key, names in lossy_maps.needed(graph, lossy).items()
    ]
    full, _ = lossy_maps.apply(graph, lossy_maps.LOSSY)
    try:
        REGISTRY.check(full)
    except UnsupportedOpError as exc:
        problems.append(str(exc))
    if problems:
        raise UnsupportedOpError("cannot export to NIR: " + "; ".join(problems))
    mapped, _ = lossy_maps.apply(graph, lossy)
    return mapped


def to_nir(graph: Graph, dt: float = DT, lossy: Iterable[str] = ()) -> nir.NIRGraph:
    """Export ``graph`` to a NIR graph with time step ``dt`` (seconds per step).

    Soft-reset neurons, max pooling and non-resting initial membranes are refused, naming the
    nodes, unless the matching mapping of :mod:`.lossy` is given in ``lossy``.
    """
    if not dt > 0:
        raise EmitError(f"dt must be > 0, got {dt}")
    graph = _check(graph, lossy_maps.parse(lossy))
    graph = with_shapes(graph)
    ctx = ExportCtx(graph, dict(graph.shapes), float(dt))
    sources: dict[str, list[str]] = {}  # IR value -> the NIR nodes whose sum it is
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    adds: dict[str, str] = {}  # consumer -> name of the Add it reads (for the round trip)

    def feed(dst: str, ins: Iterable[str]) -> None:
        srcs = [s for i in ins for s in sources[i]]
        if len(set(srcs)) != len(srcs):
            raise UnsupportedOpError(
                f"NIR cannot express {graph.where(dst)}: it sums the same value twice"
            )
        edges.extend((s, dst) for s in srcs)

    for name, node in graph:
        ins = graph.edges[name]
        if by_edges(node):
            sources[name] = [s for i in ins for s in sources[i]]
            continue
        nodes[name] = REGISTRY.emitter(graph, name)(name, node, ctx)
        sources[name] = [name]
        feed(name, ins)
        add = next((i for i in ins if isinstance(graph.nodes[i], ir.Add)), None)
        if add is not None:
            adds[name] = add
    for k, out in enumerate(graph.outputs):
        oname = "output" if len(graph.outputs) == 1 else f"output_{k}"
        if oname in graph.nodes:
            raise EmitError(f"node name '{oname}' is reserved for the NIR output node")
        nodes[oname] = nir.Output(output_type={"output": ctx.shapes[out]})
        feed(oname, [out])
        if isinstance(graph.nodes[out], ir.Add):
            adds[oname] = out
    meta = {META_KEY: json.dumps({"dt": dt, "adds": adds, "lossy": list(lossy)})}
    try:
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)
    except (AssertionError, ValueError) as exc:
        raise EmitError(f"NIR rejected the exported graph: {exc}") from None


def write(
    path: str | os.PathLike[str], graph: Graph, dt: float = DT, lossy: Iterable[str] = ()
) -> Path:
    """Export ``graph`` and write it to ``path`` (temporary file renamed into place)."""
    return save(path, to_nir(graph, dt, lossy))


def save(path: str | os.PathLike[str], nir_graph: nir.NIRGraph) -> Path:
    """Write a NIR graph to ``path`` (temporary file renamed into place)."""
    return atomic_write(path, lambda tmp: nir.write(tmp, nir_graph), suffix=".nir")
