"""Exact rewrites into forms NIR holds, applied before export (the IR graph itself is not
changed): :func:`fold_adaptive_pools`.

An adaptive average pool whose windows do not tile its input (VGG's and AlexNet's 7×7
pool on the 2×2 map of a 64×64 image: cells repeated) has no NIR node, but it is linear:
before a ``Flatten`` and a ``Linear``, as in every torchvision classifier head, the pool
folds into the linear layer's weight, ``W' = W·P`` with ``P`` the pool's matrix::

    W'[o, c, i, j] = Σ_{a, b} W[o, c, a, b] · Ph[a, i] · Pw[b, j],
    P[a, i] = 1/|w_a| for i in window w_a = [⌊a·n/m⌋, ⌈(a+1)·n/m⌉), else 0

(the same outputs up to float rounding; the weight shrinks from ``C·m_h·m_w`` to
``C·n_h·n_w`` inputs).
"""

from __future__ import annotations

import numpy as np

from ...exec.shapes import infer_shapes
from ...ir import nodes as ir
from ...ir.graph import Graph, GraphEditor
from ...ir.nodes.pools import adaptive_windows


def pool_matrix(n: int, m: int) -> np.ndarray:
    """``P[a, i]`` of one axis: output ``a`` of ``m`` averages its window of ``n`` inputs."""
    p = np.zeros((m, n), np.float64)
    for a, (lo, hi) in enumerate(adaptive_windows(n, m)):
        p[a, lo:hi] = 1.0 / (hi - lo)
    return p


def _next(ed: GraphEditor, name: str) -> str | None:
    """The single consumer of ``name`` past identities (Dropout, Identity), if it has one."""
    while True:
        users = ed.consumers(name)
        if len(users) != 1 or name in ed.outputs:
            return None
        name = users[0]
        if not ed.nodes[name].identity:
            return name


def _foldable(ed: GraphEditor, name: str) -> tuple[str, str] | None:
    """``(flatten, linear)`` read by the adaptive pool ``name``, when it can fold."""
    flatten = _next(ed, name)
    node = None if flatten is None else ed.nodes[flatten]
    if not isinstance(node, ir.Flatten) or (node.start_dim, node.end_dim) != (1, -1):
        return None
    linear = _next(ed, flatten)
    if linear is None or not isinstance(ed.nodes[linear], ir.Linear):
        return None
    return flatten, linear


def fold_adaptive_pools(graph: Graph) -> Graph:
    """``graph`` with every adaptive average pool that no plain pool equals, and that feeds
    a full ``Flatten`` then a ``Linear``, folded into that ``Linear`` (module docstring)."""
    ed = graph.editor()
    for name, node in graph:
        if not node.adaptive:
            continue
        c, *spatial = graph.shapes[graph.edges[name][0]]
        found = _foldable(ed, name)
        if node.as_plain(tuple(spatial)) is not None or found is None:
            continue
        _, linear = found
        lin = ed.nodes[linear]
        w = np.asarray(lin.weight, np.float64).reshape(-1, c, *node.output_size)
        mats = [pool_matrix(n, m) for n, m in zip(spatial, node.output_size, strict=True)]
        if len(mats) == 1:
            folded = np.einsum("oca,ai->oci", w, mats[0])
        else:
            folded = np.einsum("ocab,ai,bj->ocij", w, *mats)
        weight = folded.reshape(len(w), -1).astype(np.float32)
        ed.nodes[linear] = ir.Linear(weight, lin.bias)
        ed.remove(name)
    if len(ed.nodes) == len(graph.nodes):
        return graph
    ed.shapes.clear()  # the Flatten now flattens the pool's input: shapes are inferred again
    folded = ed.freeze()
    return folded.with_shapes(infer_shapes(folded))
