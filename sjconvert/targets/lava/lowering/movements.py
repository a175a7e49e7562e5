"""Lower data movement (``Flatten``, ``Reshape``, ``Transpose``, ``Slice``) exactly, as
fixed selections folded into the synapses that read them.

A chain of movement ops only picks elements of its source value ``X`` (shape ``[C, *S]``):
output element ``j`` is ``X.flat[idx[j]]``, with ``idx`` the chain applied to
``arange(|X|)``. Where the chain ends in a value Loihi 2 can hold, ``idx`` is one of

* a **channel selection** ``idx[c', s] = p[c']·|S| + s`` (ShuffleNet's channel shuffle
  ``Reshape → Transpose → Reshape``, ``p[k·g + j] = j·C/g + k``, and its channel split, a
  ``Slice`` on dim 1): the 1×1 map ``P[c', p[c']] = 1`` composed into every path
  (:mod:`.compose`), so the shuffle costs no population, no hop and no rounding;
* a **flatten** in PyTorch order (``view(N, -1)``): as :class:`~.compose.FlatMap`;
* any selection of a flat value, or of a ``[C, *S]`` value into a flat one: the one-hot
  matrix ``P`` as a linear layer;
* the identity (a reshape that changes nothing): the paths as they are.

Values in between (the 5-D view inside a shuffle) are kept as ``idx`` over the source's
paths; :func:`unplaced` refuses, before any lowering, a graph where anything other than a
movement op reads one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ....errors import UnsupportedOpError
from ....exec.shapes import with_shapes
from ....ir import nodes as ir
from ....ir.graph import Graph
from ....ir.nodes.movement import axis
from .compose import ConvMap, FlatMap, PathMap, PoolMap, Uncomposable
from .populations import CHECKS, REGISTRY, Lowering, Term, _spatial


@dataclass(frozen=True)
class Moved:
    """A value still in between: its source's paths and shape, and ``idx`` (see the module
    docstring)."""

    terms: list[Term]
    shape: tuple[int, ...]
    index: np.ndarray


def move(node: ir.Node, index: np.ndarray) -> np.ndarray:
    """``index`` (one sample, no batch axis) through a Flatten, Reshape, Transpose or Slice."""
    if isinstance(node, ir.Flatten):
        rank = index.ndim + 1
        first, last = axis(node.start_dim, rank) - 1, axis(node.end_dim, rank) - 1
        return index.reshape(*index.shape[:first], -1, *index.shape[last + 1 :])
    if isinstance(node, ir.Reshape):
        return index.reshape(node.shape)
    if isinstance(node, ir.Transpose):
        return index.transpose([d - 1 for d in node.dims])
    return np.take(index, np.arange(node.start, node.stop), axis=node.dim - 1)


def selection(index: np.ndarray, shape: tuple[int, ...]) -> tuple[str, np.ndarray | None]:
    """What ``index`` over a value of ``shape`` is: ``("same", None)``, ``("channels", p)``,
    ``("flatten", None)``, ``("pick", idx)`` (a flat result) or ``("between", None)``."""
    if index.shape == shape and np.array_equal(index.reshape(-1), np.arange(index.size)):
        return "same", None
    if len(shape) > 1 and index.ndim == len(shape) and index.shape[1:] == shape[1:]:
        spatial = math.prod(shape[1:])
        rows = index.reshape(len(index), -1)
        base = rows[:, :1]
        steps = np.broadcast_to(np.arange(spatial), rows.shape)
        if np.array_equal(rows - base, steps) and not (base % spatial).any():
            return "channels", base[:, 0] // spatial
    if index.ndim == 1:
        whole = len(shape) > 1 and np.array_equal(index, np.arange(math.prod(shape)))
        return ("flatten", None) if whole else ("pick", index)
    return "between", None


def unplaced(graph: Graph) -> list[str]:
    """Movement chains that end where no synapse can take them: a value in between read by
    anything but another movement op (every problem named at once, nothing lowered)."""
    moves = [n for n, node in graph if node.selects]
    if not moves:
        return []
    g = with_shapes(graph)
    found: list[str] = []
    open_: dict[str, tuple[np.ndarray, tuple[int, ...]]] = {}
    for name, node in g:
        ins = g.edges[name]
        if node.selects:
            index, shape = open_.get(ins[0]) or _start(g, ins[0])
            index = move(node, index)
            if selection(index, shape)[0] == "between":
                open_[name] = (index, shape)
            continue
        for src in ins:
            if src in open_:
                found.append(
                    f"{g.where(src)} ({g.nodes[src].op}): rearranges elements in a way that is "
                    "neither a channel selection nor a flatten, which no Loihi 2 synapse reads"
                )
    return list(dict.fromkeys(found))


def _start(g: Graph, src: str) -> tuple[np.ndarray, tuple[int, ...]]:
    shape = tuple(g.shapes[src])
    return np.arange(math.prod(shape)).reshape(shape), shape


CHECKS.append(unplaced)


def _pick_channels(p: np.ndarray, channels: int, dims: int) -> np.ndarray:
    w = np.zeros((len(p), channels, *([1] * dims)))
    w[(np.arange(len(p)), p, *([0] * dims))] = 1.0
    return w


def _one_hot(index: np.ndarray, size: int) -> np.ndarray:
    m = np.zeros((len(index), size))
    m[np.arange(len(index)), index] = 1.0
    return m


def _selected(
    kind: str, found: np.ndarray | None, m: PathMap, size: int, out: tuple[int, ...]
) -> PathMap:
    """One path ``m`` through the selection (``size`` elements in, shape ``out`` out)."""
    if kind == "channels":
        conv = _spatial(m)
        w = _pick_channels(found, conv.out_shape[0], len(out) - 1)
        one = (1,) * (len(out) - 1)
        return conv.then_conv(w, one, (0,) * len(one), one, out)
    if kind == "flatten":
        return FlatMap(m) if isinstance(m, ConvMap | PoolMap) else m
    pick = _one_hot(found, size)
    if isinstance(m, ConvMap | PoolMap):
        return FlatMap(m).then_linear(pick)
    return m.then_linear(pick)


def _nonzero(m: PathMap) -> bool:
    if isinstance(m, ConvMap):
        return bool(m.weight.any())
    return not hasattr(m, "matrix") or bool(m.matrix.any())


@REGISTRY.register(ir.Flatten, ir.Reshape, ir.Transpose, ir.Slice)
def _movement(name: str, node: ir.Node, b: Lowering) -> None:
    (src,) = b.graph.edges[name]
    held = b.moved.get(src) or Moved(b.read(src), b.shape(src), _start(b.graph, src)[0])
    index = move(node, held.index)
    kind, found = selection(index, held.shape)
    if kind == "between":
        b.moved[name] = Moved(held.terms, held.shape, index)
        return
    out, size = [], math.prod(held.shape)
    for t in held.terms:
        try:
            m = t.map if kind == "same" else _selected(kind, found, t.map, size, b.shape(name))
        except Uncomposable as exc:
            raise UnsupportedOpError(
                f"{b.graph.where(name)}: cannot join the path {' → '.join((t.src, *t.path))} "
                f"and this {node.op} into one synapse ({exc})"
            ) from None
        if _nonzero(m):  # a split leaves the paths of the other part out
            out.append(Term(t.src, m, (*t.path, name)))
    b.terms[name] = out
