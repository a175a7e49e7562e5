"""Conformance cases generated from the op registry: for every IR node class, small graphs
around one node of that class, with parameters drawn from the class's own dataclass fields.

Nothing here names a node class. A field is drawn from its type (bool, int, float, tuple of
ints, optional, per-channel value, array) and, where its name says more, from that
(``weight``/``bias`` of a synapse, ``shape``, ``dims``, ``dim``, ``groups``, ``var``, ...); a
draw the node's own ``validate`` / ``check_inputs`` refuses is discarded. So a new op gets
its cases without a test written for it; ``test_registry.py`` fails for a class none of
whose draws is valid, and the class can then declare ``conformance_example`` (a classmethod
``(shape) -> node``, see :func:`_declared`) next to itself.

Every value lies on a dyadic grid (multiples of 1/8, weights of 1/8, BatchNorm variances
whose square roots are exact), so every synaptic sum and every average is exact in float32
and any summation order gives the same bits: executors must then agree bit for bit.

Each case is ``Input → [a neuron, a scaled copy or a running mean per input] → node``: the
node reads the static direct input, spikes of a neuron (temporal values), or a sequence
input, and the graph reads the node out as its running mean.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from sjconvert.exec.shapes import infer_shapes
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph

EIGHTHS = st.integers(-16, 16).map(lambda k: k / 8)  # the dyadic grid, [-2, 2]


@dataclass
class Case:
    """One graph, its input batch (``[N, ...]``, or ``[T, N, ...]`` for a sequence) and T."""

    graph: Graph
    x: np.ndarray
    T: int
    sequence: bool

    def __repr__(self) -> str:
        nodes = ", ".join(f"{n}={node!r}" for n, node in self.graph)
        return f"Case(T={self.T}, sequence={self.sequence}, x{list(self.x.shape)}: {nodes})"


def node_classes() -> list[type[ir.Node]]:
    """Every node class a graph can hold besides its input, by name."""
    return [c for n, c in sorted(ir.NODE_TYPES.items()) if c.arity != 0]


def _dims(cls: type[ir.Node]) -> int | None:
    """Spatial dims a class declares as a class variable (convolutions, pools)."""
    fields = {f.name for f in dataclasses.fields(cls)}
    dims = getattr(cls, "dims", None)
    return dims if isinstance(dims, int) and "dims" not in fields else None


def _grid(r: np.random.Generator, shape: tuple[int, ...], lo: float, hi: float) -> np.ndarray:
    """Multiples of 1/8 in ``[lo, hi]``."""
    return (r.integers(int(lo * 8), int(hi * 8) + 1, size=shape) / 8).astype(np.float32)


def _weight(cls: type, r: np.random.Generator, shape: tuple[int, ...], draw: Any) -> Any:
    """A synapse's weight for per-sample input ``shape`` (``[out, in]``, or a convolution's
    ``[out, in/groups, *kernel]``)."""
    out = draw(st.integers(1, 4))
    dims = _dims(cls)
    if not dims:
        return _grid(r, (out, shape[-1]), -1, 1)
    kernel = [draw(st.integers(1, min(3, n))) for n in shape[1:]]
    groups = draw(st.sampled_from([g for g in (1, 2, shape[0]) if shape[0] % g == 0]))
    return _grid(r, (out * groups, shape[0] // groups, *kernel), -1, 1), groups


def _factorised(draw: Any, size: int) -> tuple[int, ...]:
    """A shape of ``size`` elements in one to three axes."""
    out = []
    for _ in range(draw(st.integers(0, 2))):
        divisors = [d for d in range(1, size + 1) if size % d == 0]
        d = draw(st.sampled_from(divisors))
        out.append(d)
        size //= d
    return (*out, size)


def _by_name(
    name: str, drawn: dict[str, Any], shape: tuple[int, ...], r: np.random.Generator, draw: Any
) -> Any:
    """Values for fields whose name says what they hold (shared by every class having
    such a field; ``drawn``: the fields drawn before); ``...`` for the others."""
    rank = len(shape) + 1  # with the batch axis
    if name == "shape":
        return _factorised(draw, math.prod(shape))
    if name == "dims":
        return tuple(draw(st.permutations(range(1, rank))))
    if name in ("dim", "start_dim", "end_dim"):
        return draw(st.integers(-(rank - 1), rank - 1).filter(lambda d: d != 0))
    if name in ("start", "stop"):
        return draw(st.integers(0, max(shape)))
    if name == "var":
        return r.choice(np.float32([0.25, 1.0, 4.0]), size=shape[:1])  # √var exact
    if name == "eps":
        return 0.0
    if name in ("tau",):
        return draw(st.sampled_from([1.0, 1.5, 2.0, 2.5, 4.0]))
    if name.endswith("decay") and name != "decay":
        return draw(st.sampled_from([0.0, 0.25, 0.5, 0.75, 0.875]))
    if name == "decay":  # a decay rate given beside a time constant is its inverse
        return draw(st.sampled_from([None, 1.0 / drawn["tau"]])) if "tau" in drawn else ...
    return ...


def _by_type(hint: Any, name: str, shape: tuple[int, ...], cls: type, draw: Any) -> Any:
    """A value for a field from its type alone."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        inner = next(a for a in args if a is not type(None))
        return draw(st.one_of(st.none(), st.just(_by_type(inner, name, shape, cls, draw))))
    if hint is bool:
        return draw(st.booleans())
    if hint is int:
        return draw(st.integers(0, 4))
    if hint is float:
        return draw(EIGHTHS)
    if typing.get_origin(hint) is tuple:
        dims = _dims(cls) or len(shape) - 1 or 1
        low, high = {"padding": (0, 1), "dilation": (1, 2)}.get(name, (1, 3))
        return tuple(draw(st.integers(low, high)) for _ in range(dims))
    return ...


def _field(
    f: dataclasses.Field,
    hint: Any,
    cls: type,
    shape: tuple[int, ...],
    drawn: dict[str, Any],
    r: Any,
    draw: Any,
) -> Any:
    if f.metadata.get("per_channel"):
        channel = draw(st.booleans()) and len(shape) > 0
        return _grid(r, shape[:1], -1, 2) if channel else draw(EIGHTHS)
    value = _by_name(f.name, drawn, shape, r, draw)
    if value is not ...:
        return value
    if f.metadata.get("array"):
        return _grid(r, shape[:1], -2, 2) if draw(st.booleans()) else np.float32(draw(EIGHTHS))
    value = _by_type(hint, f.name, shape, cls, draw)
    assume(value is not ...)
    return value


def _declared(cls: type, shape: tuple[int, ...]) -> ir.Node | None:
    """A class may declare ``conformance_example(shape)`` when no generic draw fits it."""
    make = getattr(cls, "conformance_example", None)
    return None if make is None else make(shape)


@st.composite
def nodes(draw: st.DrawFn, cls: type[ir.Node], shape: tuple[int, ...]) -> ir.Node:
    """A valid node of ``cls`` reading inputs of per-sample ``shape``."""
    r = np.random.default_rng(draw(st.integers(0, 2**16)))
    declared = _declared(cls, shape)
    if declared is not None:
        return declared
    hints = typing.get_type_hints(cls)
    values = {}
    groups = None
    for f in dataclasses.fields(cls):
        if cls.synapse and f.name == "weight":
            w = _weight(cls, r, shape, draw)
            w, groups = w if isinstance(w, tuple) else (w, None)
            values["weight"] = w
        elif cls.synapse and f.name == "bias":
            values["bias"] = draw(
                st.sampled_from([None, _grid(r, (len(values["weight"]),), -1, 1)])
            )
        elif f.name == "groups" and groups is not None:
            values["groups"] = groups
        else:
            values[f.name] = _field(f, hints[f.name], cls, shape, values, r, draw)
    try:
        node = cls(**values)
        node.check_inputs([shape] * (cls.arity or 2))
    except (ValueError, TypeError):
        assume(False)
    return node


def _shape(draw: Any, cls: type) -> tuple[int, ...]:
    dims = _dims(cls)
    rank = dims + 1 if dims else draw(st.integers(1, 3))
    return (draw(st.integers(1, 4)), *(draw(st.integers(2, 5)) for _ in range(rank - 1)))


def _feeder(draw: Any, r: Any, shape: tuple[int, ...], cls: type[ir.Node]) -> ir.Node | None:
    """What stands between the input and one of the node's inputs: nothing (the direct
    input), a neuron (temporal spikes), for a sum a scalar scale it folds in, and for a
    stateful node a scale (scalar or per channel) or a running mean: element-wise nodes it
    runs fused with when nothing observes them (:mod:`sjconvert.exec.chains`)."""
    kinds = ["input", "signed", "if", *(["scale"] if cls.sums or cls.stateful else [])]
    kind = draw(st.sampled_from([*kinds, *(["mean"] if cls.stateful else [])]))
    th = _grid(r, shape[:1], 0.25, 1.5) if draw(st.booleans()) else 0.5
    if kind == "signed":
        return ir.SignedIF(th, 0.25, max_spikes=draw(st.integers(1, 3)))
    if kind == "if":
        return ir.IF(th, draw(st.sampled_from([None, 0.0])), 0.0)
    if kind == "mean":
        return ir.RunningMean()
    if kind == "scale" and cls.stateful and draw(st.booleans()):
        return ir.Scale(_grid(r, shape[:1], 0.25, 1.5))
    if kind == "scale":
        return ir.Scale(np.float32(draw(st.sampled_from([0.5, 0.75, 1.5]))))
    return None


@st.composite
def cases(draw: st.DrawFn, cls: type[ir.Node], max_T: int = 5) -> Case:
    """A graph holding one node of ``cls`` (see the module docstring), an input batch and T."""
    r = np.random.default_rng(draw(st.integers(0, 2**16)))
    shape = _shape(draw, cls)
    node = draw(nodes(cls, shape))
    sequence = draw(st.booleans())
    graph_nodes: dict[str, ir.Node] = {"x": ir.Input(shape, sequence)}
    edges: dict[str, tuple[str, ...]] = {"x": ()}
    ins = []
    for i in range(cls.arity or draw(st.integers(2, 3))):
        feeder = _feeder(draw, r, shape, cls)
        if feeder is None:
            ins.append("x")
            continue
        graph_nodes[f"in{i}"], edges[f"in{i}"] = feeder, ("x",)
        ins.append(f"in{i}")
    graph_nodes["node"], edges["node"] = node, tuple(ins)
    graph = Graph(graph_nodes, edges, ("node",))
    try:
        graph = Graph(graph_nodes, edges, ("node",), infer_shapes(graph))
    except ValueError:  # the node refuses what its feeders give
        assume(False)
    T = draw(st.integers(1, max_T))
    n = draw(st.integers(1, 3))
    x = _grid(r, (T, n, *shape) if sequence else (n, *shape), -2, 2)
    return Case(graph, x, T, sequence)
