"""Lower a spiking IR graph to populations and synapses (:class:`~.network.Paths`).

Every IF, LIF or Readout node becomes a population. Its input is a sum of **linear paths**
from source populations (or the graph input) through convolutions, average pools, scales,
batch norms, flattening, linear layers, concatenation and residual adds; each path becomes
**one synapse** (:mod:`.compose`): a convolution, a depthwise convolution for a scaled skip,
or a dense matrix after a flatten. Lava sums every synapse connected to a neuron's input,
which is the residual add; a concatenation becomes one synapse per concatenated part, and
neurons reading one directly one population per part (:mod:`.concats`).

The walk runs forward over the graph, one emitter per IR node class in :data:`REGISTRY`
(``docs/supported_ops.md`` lists them), after :meth:`Registry.check` named every node it
cannot take. Each value carries its terms (source, linear map, IR nodes on the way) and its
constant part — the value with every source at zero, computed with the node's own torch
kernel (:mod:`sjconvert.ops.kernels`), so biases of convolutions, batch norms and pools
reach the population exactly, per neuron.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from ....errors import UnsupportedOpError
from ....exec.shapes import with_shapes
from ....ir import nodes as ir
from ....ir.graph import Graph
from ....ops.kernels import entry, prepare
from ...registry import Registry
from ..network import Paths, Population, Synapse
from .compose import (
    ConvMap,
    DenseMap,
    FlatMap,
    PathMap,
    PoolMap,
    Uncomposable,
    expand_groups,
)


@dataclass(frozen=True)
class Term:
    """One linear path into a value: from ``src`` through ``map`` (the IR nodes ``path``);
    ``exact`` while the map is a max tree's readout, integer in the tree's own units."""

    src: str
    map: PathMap
    path: tuple[str, ...]
    exact: bool = False
    part: tuple[int, int] | None = None  # (offset, total channels): a concatenation's part

    def whole(self) -> Term:
        """The term over every channel of its concatenation (its map embedded)."""
        if self.part is None:
            return self
        m = self.map.dense() if isinstance(self.map, FlatMap) else self.map
        return Term(self.src, m.embed(*self.part), self.path, self.exact)

    def channels(self) -> int:
        m = self.map
        return m.matrix.shape[0] if isinstance(m, DenseMap) else m.out_shape[0]


@dataclass
class Lowering:
    graph: Graph
    terms: dict[str, list[Term]] = field(default_factory=dict)
    consts: dict[str, torch.Tensor] = field(default_factory=dict)
    populations: dict[str, Population] = field(default_factory=dict)
    synapses: list[Synapse] = field(default_factory=list)
    cumulative: set[str] = field(default_factory=set)  # Accumulate outputs
    pooled: set[str] = field(default_factory=set)  # max pool outputs (cumulative values)
    relay_of: dict[str, str] = field(default_factory=dict)  # last tree level -> its relay
    nonneg: set[str] = field(default_factory=set)  # last tree levels of maxes never below 0
    moved: dict[str, Any] = field(default_factory=dict)  # movement values in between

    def shape(self, name: str) -> tuple[int, ...]:
        if name in self.populations:  # relays and max-tree levels have no IR node
            return self.populations[name].shape
        return tuple(self.graph.shapes[name])

    def read(self, name: str, parts: bool = False) -> list[Term]:
        """The terms of value ``name``; the parts of a concatenation embedded unless the
        reader takes ``parts`` (a channel-wise op, a convolution, a population)."""
        terms = self.terms[name]
        return terms if parts else [t.whole() for t in terms]

    def value(self, name: str, parts: bool = False) -> list[Term]:
        return self.read(self.graph.edges[name][0], parts)

    def unique(self, base: str) -> str:
        """A population or synapse name not taken yet."""
        taken = {s.name for s in self.synapses} | set(self.graph.nodes) | set(self.populations)
        name, i = base, 1
        while name in taken:
            name, i = f"{base}_{i}", i + 1
        return name

    def each(
        self, name: str, fn: Callable[[PathMap], PathMap], parts: Callable | None = None
    ) -> None:
        """Apply ``fn`` to the linear map of every term of ``name``'s input (``parts``:
        ``(term) -> (fn, part)`` for a reader that keeps a concatenation's parts apart)."""
        out = []
        for t in self.value(name, parts is not None):
            f, part = (fn, None) if t.part is None or parts is None else parts(t)
            try:
                out.append(Term(t.src, f(t.map), (*t.path, name), part=part))
            except Uncomposable as exc:
                raise UnsupportedOpError(
                    f"{self.graph.where(name)}: cannot join the path "
                    f"{' → '.join((t.src, *t.path, name))} into one synapse ({exc})"
                ) from None
        self.terms[name] = out


REGISTRY: Registry[Lowering, None] = Registry("lava")
SPLITS: list[Callable[[Lowering, str, ir.Node, list[Term]], bool]] = []
"""Ways a population may be emitted as several (:mod:`.concats`: one per concatenated
part); each returns whether it took the population."""
CHECKS: list[Callable[[Graph], list[str]]] = []
"""Graph-level checks :func:`lower` runs with the registry's, every problem named at once
(a max pool of per-step values, :mod:`.max_pools`)."""


def _const(b: Lowering, name: str, node: ir.Node) -> None:
    """The value of ``name`` with every source at zero (its node's kernel, float64; a
    synapse reading zeros is its bias)."""
    ins = b.graph.edges[name]
    if node.synapse and not any(b.consts[i].any() for i in ins):
        bias = getattr(node, "bias", None)
        out = torch.zeros(1, *b.shape(name), dtype=torch.float64)
        if bias is not None:
            out += torch.as_tensor(np.asarray(bias, np.float64)).reshape(-1, *[1] * (out.dim() - 2))
        b.consts[name] = out
        return
    params = prepare(node, [b.shape(i) for i in ins], dtype=torch.float64)
    found = entry(node)
    b.consts[name] = found.fn(params, [b.consts[i] for i in ins])


def _source(b: Lowering, name: str) -> None:
    shape = b.shape(name)
    start = ConvMap.identity(shape) if len(shape) > 1 else DenseMap.identity(shape)
    b.terms[name] = [Term(name, start, ())]
    b.consts[name] = torch.zeros(1, *shape, dtype=torch.float64)


@REGISTRY.register(ir.Input)
def _input(name: str, node: ir.Input, b: Lowering) -> None:
    _source(b, name)


def _synapse_name(b: Lowering, t: Term, dst: str) -> str:
    syn = [p for p in t.path if b.graph.nodes[p].synapse]
    taken = {s.name for s in b.synapses} | set(b.graph.nodes)
    if len(syn) == 1 and syn[0] not in {s.name for s in b.synapses}:
        return syn[0]
    base = f"{t.src}_to_{dst}"
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    return name


def _emit_synapse(b: Lowering, t: Term, dst: str) -> Synapse:
    name = _synapse_name(b, t, dst)
    m = t.map.dense() if isinstance(t.map, FlatMap) else t.map
    if isinstance(m, PoolMap):
        raise UnsupportedOpError(
            f"{b.graph.where(dst)}: an adaptive pool that repeats cells ({' → '.join(t.path)}) "
            "feeds only a Linear layer on Loihi 2"
        )
    if isinstance(m, ConvMap):
        weight, groups = m.grouped()
        return Synapse(
            name, t.src, dst, "conv", weight, m.stride, m.padding, m.dilation, groups, t.path,
            exact=t.exact,
        )  # fmt: skip
    if len(b.shape(dst)) != 1:
        raise UnsupportedOpError(
            f"{b.graph.where(dst)}: the path {' → '.join(t.path)} ends in a dense map, which "
            "feeds only 1-D populations"
        )
    return Synapse(name, t.src, dst, "dense", m.matrix, path=t.path)


@REGISTRY.register(ir.IF, ir.SignedIF, ir.LIF, ir.Readout)
def _population(name: str, node: ir.Node, b: Lowering) -> None:
    terms = b.value(name, parts=True)
    if any(split(b, name, node, terms) for split in SPLITS):
        return
    terms = [t.whole() for t in terms]
    for t in terms:
        b.synapses.append(_emit_synapse(b, t, name))
    bias = b.consts[b.graph.edges[name][0]][0].numpy()
    b.populations[name] = Population(name, node, b.shape(name), bias)
    relay = b.relay_of.get(terms[0].src) if len(terms) == 1 and terms[0].exact else None
    if relay is not None:  # the pool's output alone drives this population
        b.populations[relay] = replace(b.populations[relay], feeds=name)
    _source(b, name)


@REGISTRY.register(ir.Conv1d, ir.Conv2d)
def _conv(name: str, node: ir.Conv1d | ir.Conv2d, b: Lowering) -> None:
    w = np.asarray(node.weight, np.float64)  # kept grouped (see ConvMap)
    out = b.shape(name)

    def conv(w: np.ndarray, groups: int = 1) -> Callable[[PathMap], PathMap]:
        return lambda m: _spatial(m).then_conv(
            w, node.stride, node.padding, node.dilation, out, groups
        )

    def part(t: Term) -> tuple[Callable, None]:  # the columns of the part's channels
        return conv(expand_groups(w, node.groups)[:, t.part[0] : t.part[0] + t.channels()]), None

    b.each(name, conv(w, node.groups), part)


def _spatial(m: PathMap) -> ConvMap:
    if isinstance(m, PoolMap):
        raise Uncomposable("a convolution or pool after an adaptive pool that repeats cells")
    if not isinstance(m, ConvMap):
        raise Uncomposable("a convolution after a flatten or a linear layer")
    return m


def _pool_accepts(node: ir.Node) -> str | None:
    if node.ceil_mode:
        return "ceil_mode pooling is not one convolution"
    if any(node.padding) and not node.count_include_pad:
        return "padding not counted in the average is not one convolution"
    return None


@REGISTRY.register(ir.AvgPool1d, ir.AvgPool2d, accepts=_pool_accepts)
def _avgpool(name: str, node: ir.Node, b: Lowering) -> None:
    c, k = b.shape(name)[0], node.kernel_size
    div = node.divisor_override or int(np.prod(k))
    w = np.zeros((c, c, *k))
    w[np.arange(c), np.arange(c)] = 1.0 / div
    out, one = b.shape(name), (1,) * len(k)
    b.each(name, lambda m: _spatial(m).then_conv(w, node.stride, node.padding, one, out))


def _scale(b: Lowering, name: str, factor: np.ndarray) -> None:
    def scaled(f: np.ndarray) -> Callable[[PathMap], PathMap]:
        return lambda m: (m.dense() if isinstance(m, FlatMap) else m).then_scale(f)

    def part(t: Term) -> tuple[Callable, tuple[int, int]]:  # the factors of its channels
        f = np.asarray(factor).reshape(-1)
        f = f[t.part[0] : t.part[0] + t.channels()] if f.size > 1 else f
        return scaled(f), t.part

    b.each(name, scaled(factor), part)


@REGISTRY.register(ir.Scale)
def _scale_node(name: str, node: ir.Scale, b: Lowering) -> None:
    _scale(b, name, node.factor)


@REGISTRY.register(ir.BatchNorm)
def _batchnorm(name: str, node: ir.BatchNorm, b: Lowering) -> None:
    _scale(b, name, node.gamma / np.sqrt(node.var.astype(np.float64) + node.eps))


@REGISTRY.register(ir.AdaptiveAvgPool1d, ir.AdaptiveAvgPool2d)
def _adaptive(name: str, node: ir.Node, b: Lowering) -> None:
    """A plain average pool where one equals it, else a lazy :class:`PoolMap` (cells that
    repeat: AlexNet's and VGG's 7×7 pools on small inputs), read by a Linear layer."""
    (src,) = b.graph.edges[name]
    plain = node.as_plain(b.shape(src)[1:])
    if plain is not None:
        _avgpool(name, plain, b)
        return
    out = b.shape(name)
    b.each(name, lambda m: PoolMap(_spatial(m), out))


@REGISTRY.register(ir.Linear)
def _linear(name: str, node: ir.Linear, b: Lowering) -> None:
    def fn(m: PathMap) -> PathMap:
        if isinstance(m, ConvMap | PoolMap):
            raise Uncomposable("a linear layer on a [C, ...] value without a flatten")
        return m.then_linear(node.weight)

    b.each(name, fn)


@REGISTRY.register(ir.Dropout, ir.Identity)
def _identity(name: str, node: ir.Node, b: Lowering) -> None:
    b.terms[name] = [replace(t, path=(*t.path, name)) for t in b.value(name, parts=True)]


@REGISTRY.register(ir.Add)
def _add(name: str, node: ir.Add, b: Lowering) -> None:
    b.terms[name] = [
        Term(t.src, t.map, (*t.path, name)) for i in b.graph.edges[name] for t in b.read(i)
    ]


def lower(graph: Graph) -> Paths:
    """The populations and synapses of a spiking ``graph`` (see the module docstring);
    raises :class:`~sjconvert.errors.UnsupportedOpError` naming every node it cannot take."""
    found = REGISTRY.problems(graph) + [p for check in CHECKS for p in check(graph)]
    if found:
        raise UnsupportedOpError(
            f"target lava cannot express {len(found)} node(s): {'; '.join(found)} "
            f"(supported ops: {', '.join(REGISTRY.ops())})"
        )
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedOpError("a Loihi network has exactly one input and one output")
    b = Lowering(with_shapes(graph))
    uses = {n: len(graph.consumers(n)) for n in graph.nodes}
    for name, node in b.graph:
        REGISTRY.emitter(b.graph, name)(name, node, b)
        if name not in b.consts:
            _const(b, name, node)
        for src in set(graph.edges[name]):  # a value read for the last time: drop its maps
            uses[src] -= 1
            if uses[src] == 0 and src not in graph.outputs:
                b.terms.pop(src, None)
                b.moved.pop(src, None)
    (out,) = graph.outputs
    if out not in b.populations:
        raise UnsupportedOpError(
            f"{graph.where(out)} is the output: a Loihi network ends with neurons or a Readout"
        )
    (inp,) = graph.inputs
    return Paths(inp, b.shape(inp), b.populations, tuple(b.synapses), out)
