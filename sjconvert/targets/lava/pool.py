"""Fold non-overlapping average pooling into the synapse that reads it.

Targets without a pooling layer (Loihi NetX) need ``AvgPool`` gone. Pooling is linear, so a
pool of kernel ``k`` (= stride, no padding) followed by a synapse is one synapse on the
unpooled input:

* convolution ``W`` (kernel ``K``, stride ``c``, padding ``P``, dilation 1) after the pool
  equals a convolution with kernel ``kK``, stride ``kc``, padding ``kP`` and weights
  ``W'[o, i, k·a + b] = W[o, i, a] / k`` per spatial axis (``b < k``), as long as every
  pooled axis length is a multiple of ``k``;
* ``Flatten → Linear`` after the pool equals ``Flatten → Linear`` with every weight spread
  over its ``k × k`` window and divided by ``k²`` (cells the pool drops get weight 0).
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import PassError
from ...ir import nodes as ir
from ...ir.graph import Graph

CONVS = {ir.AvgPool1d: ir.Conv1d, ir.AvgPool2d: ir.Conv2d}


def foldable(node: ir.Node) -> bool:
    """An average pool this pass may fold (see :func:`fuse_avgpool` for when it can)."""
    return isinstance(node, (ir.AvgPool1d, ir.AvgPool2d))


def spread(weight: np.ndarray, kernel: tuple[int, ...], lead: int) -> np.ndarray:
    """Repeat every spatial entry of ``weight`` (axes after ``lead``) ``k`` times per axis
    and divide by ``∏ k``: the weight acting on the unpooled input."""
    w = np.asarray(weight, np.float64)
    for axis, k in enumerate(kernel):
        w = np.repeat(w, k, axis=lead + axis)
    return (w / math.prod(kernel)).astype(np.float32)


def fuse_conv(pool: ir.AvgPool1d | ir.AvgPool2d, conv: ir.Conv1d | ir.Conv2d) -> ir.Node:
    """Node-level helper: the convolution equal to ``conv ∘ pool`` (see module docstring)."""
    k = pool.kernel_size
    return conv.evolve(
        weight=spread(conv.weight, k, 2),
        stride=tuple(s * kk for s, kk in zip(conv.stride, k, strict=True)),
        padding=tuple(p * kk for p, kk in zip(conv.padding, k, strict=True)),
    )


def fuse_linear(pool_in: tuple[int, ...], k: tuple[int, ...], linear: ir.Linear) -> ir.Linear:
    """Node-level helper: ``Linear ∘ Flatten ∘ pool`` as ``Linear ∘ Flatten`` on the input
    of the pool, whose per-sample shape is ``pool_in`` (``[C, *spatial]``)."""
    pooled = [s // kk for s, kk in zip(pool_in[1:], k, strict=True)]
    w = linear.weight.reshape(linear.weight.shape[0], pool_in[0], *pooled)
    w = spread(w, k, 2)
    pad = [(0, 0), (0, 0)] + [(0, s - ws) for s, ws in zip(pool_in[1:], w.shape[2:], strict=True)]
    return linear.evolve(weight=np.pad(w, pad).reshape(w.shape[0], -1))


def _why_not(graph: Graph, name: str, pool: ir.Node) -> str | None:
    if not pool.plain or pool.ceil_mode:
        return "only pooling with stride = kernel and no padding folds into a synapse"
    readers = graph.consumers(name)
    if len(readers) != 1 or name in graph.outputs:
        return "its output is read by more than one node"
    reader = graph.nodes[readers[0]]
    if isinstance(reader, CONVS[type(pool)]):
        if reader.dilation != (1,) * pool.dims:
            return "the convolution after it is dilated"
        spatial = graph.shapes[graph.edges[name][0]][1:]
        if any(s % k for s, k in zip(spatial, pool.kernel_size, strict=True)):
            return "its input length is not a multiple of the kernel"
        return None
    if isinstance(reader, ir.Flatten) and reader.start_dim == 1 and reader.end_dim == -1:
        after = graph.consumers(readers[0])
        if len(after) == 1 and isinstance(graph.nodes[after[0]], ir.Linear):
            return None
    return "it is not followed by a convolution or by Flatten → Linear"


def fuse_avgpool(graph: Graph) -> Graph:
    """Fold every AvgPool1d/2d into the synapse reading it; raise :class:`PassError`
    naming each pool that cannot be folded, and why."""
    problems = [
        f"{graph.where(n)}: {why}"
        for n, node in graph
        if foldable(node) and (why := _why_not(graph, n, node)) is not None
    ]
    if problems:
        raise PassError(f"cannot fold average pooling: {'; '.join(problems)}")
    ed = graph.editor()
    for name, pool in graph:
        if not foldable(pool):
            continue
        (reader,) = graph.consumers(name)
        (src,) = graph.edges[name]
        node = graph.nodes[reader]
        if isinstance(node, ir.Flatten):
            (linear,) = graph.consumers(reader)
            ed.nodes[linear] = fuse_linear(graph.shapes[src], pool.kernel_size, ed.nodes[linear])
            ed.shapes[reader] = (math.prod(graph.shapes[src]),)
        else:
            ed.nodes[reader] = fuse_conv(pool, node)
        ed.remove(name)
    return ed.freeze()
