"""Lower the cumulative max pools of a converted network (``Accumulate → MaxPool →
Difference``, :func:`sjconvert.passes.pools.accumulate_pools`) to populations: a **relay**
that holds the pool's input value (the linear path into it, with its bias), then one
population per level of a ReLU tree (:mod:`.max_trees`); the pooled value is the tree's
readout, a 1×1 map from the last level composed into whatever reads it.

The relay's messages are its input per step, so the tree's ReLU neurons (which integrate
their input) see the cumulative values the IR pools. Max pools of per-step values (``ann2snn
--maxpool pre`` / ``spike``) are refused by name.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ....errors import UnsupportedOpError
from ....ir import nodes as ir
from ....ir import walk
from ....ir.graph import Graph
from ..network import Population, Synapse
from . import max_trees
from .compose import ConvMap, expand_groups
from .populations import CHECKS, REGISTRY, Lowering, Term, _emit_synapse


def per_step_pools(graph: Graph) -> list[str]:
    """Max pools of values that change over time but are not running sums (``ann2snn
    --maxpool pre`` / ``spike``). A pool of a static value (the direct input's convolution)
    is its own running sum over the steps, up to the factor ``t + 1``: it runs as one."""
    changing = walk.temporal(graph)
    return [
        f"{graph.where(n)} ({node.op}): max pooling of per-step values has no exact Loihi 2 "
        "form; convert with the default --maxpool cumulative"
        for n, node in graph
        if node.pool and not node.linear and _per_step(graph, n, changing)
    ]


def _per_step(graph: Graph, name: str, changing: set[str]) -> bool:
    (src,) = graph.edges[name]
    return src in changing and not isinstance(graph.nodes[src], ir.Accumulate)


CHECKS.append(per_step_pools)


def max_pool_accepts(node: ir.Node) -> str | None:
    if any(d != 1 for d in node.dilation):
        return "dilated max pooling has no Loihi 2 form here"
    return None


@REGISTRY.register(ir.Accumulate)
def _accumulate(name: str, node: ir.Accumulate, b: Lowering) -> None:
    """The running sum before a max pool: the pool's relay integrates its input."""
    b.terms[name] = [replace(t, path=(*t.path, name)) for t in b.value(name)]
    b.consts[name] = b.consts[b.graph.edges[name][0]]
    b.cumulative.add(name)


@REGISTRY.register(ir.MaxPool1d, ir.MaxPool2d, accepts=max_pool_accepts)
def _maxpool(name: str, node: ir.Node, b: Lowering) -> None:
    (src,) = b.graph.edges[name]
    shape, out = b.shape(src), b.shape(name)
    win = max_trees.window(
        node.kernel_size, node.stride, node.padding, node.ceil_mode, tuple(shape[1:])
    )
    if isinstance(win, str) or win.out != tuple(out[1:]):
        why = win if isinstance(win, str) else "the window does not give PyTorch's size"
        raise UnsupportedOpError(f"{b.graph.where(name)}: max pooling: {why}")
    counts = _counts(b, src)
    relay = _relay(b, name, src, win.padded and not counts)
    last = _tree(b, name, relay, shape[0], win)
    if counts:  # a max of values never below zero is never below zero
        b.nonneg.add(last.src)
    b.terms[name] = [Term(last.src, last.map, (name,), exact=True)]
    b.consts[name] = torch.zeros(1, *out, dtype=torch.float64)
    b.pooled.add(name)
    b.relay_of[last.src] = relay


@REGISTRY.register(ir.Difference)
def _difference(name: str, node: ir.Difference, b: Lowering) -> None:
    (src,) = b.graph.edges[name]
    if src not in b.pooled:
        raise UnsupportedOpError(
            f"{b.graph.where(name)}: a Difference is lowered only after a cumulative max pool"
        )
    b.terms[name] = [replace(t, path=(*t.path, name)) for t in b.value(name)]
    b.consts[name] = b.consts[src]


def _counts(b: Lowering, src: str) -> bool:
    """Whether the pooled value is a selection of spiking populations' outputs, each scaled
    by a positive factor (their net spike counts times a spike's value, never negative, so
    a zero read in padding never wins the max): every row of the map has at most one
    nonzero weight, and it is positive; or the unchanged output of a max pool of such
    values (GoogLeNet's padded branch pool after a stage's pool)."""
    if b.consts[src].abs().max() > 0:
        return False
    for t in b.read(src):
        if t.exact and t.src in b.nonneg:
            continue
        m = t.map
        pop = b.populations.get(t.src)
        if pop is None or pop.role != "neuron" or not isinstance(m, ConvMap) or not m.pointwise:
            return False
        w = m.ungrouped().weight
        w = w.reshape(w.shape[:2])
        if (w < 0).any() or ((w != 0).sum(1) > 1).any():
            return False
    return True


def _relay(b: Lowering, pool: str, src: str, padded: bool) -> str:
    """The relay population holding the pool's input: every linear path into it, its
    constant part as the bias."""
    relay = b.unique(f"{pool}_relay")
    for t in b.read(src):
        b.synapses.append(_emit_synapse(b, t, relay))
    bias = b.consts[src][0].numpy()
    b.populations[relay] = Population(
        relay, b.graph.nodes[pool], b.shape(src), bias, role="relay", padded=padded
    )
    return relay


def _level(b: Lowering, pool: str, syn: Synapse, shape: tuple, group: int) -> str:
    """One tree level: its population (``group`` channels per pooled channel) and the
    synapse into it."""
    b.synapses.append(syn)
    b.populations[syn.dst] = Population(
        syn.dst, b.graph.nodes[pool], shape, np.zeros(shape), role="max", group=group
    )
    return syn.dst


def _tree(b: Lowering, pool: str, relay: str, channels: int, win: max_trees.Window) -> Term:
    """The ReLU tree over the relay; returns the pooled value as a term of the last level."""
    dims = len(win.kernel)
    taps = int(np.prod([k - e for k, e in zip(win.kernel, win.lead, strict=True)]))
    levels, vector = max_trees.tree(taps)
    ident = (1,) * dims, (0,) * dims, (1,) * dims
    if not levels:  # a one-tap window: the relay, subsampled
        w = expand_groups(max_trees.first_kernel(np.ones((1, 1)), win, channels), channels)
        geo = win.stride, win.padding, (1,) * dims
        return Term(relay, ConvMap(w, *geo, b.shape(relay), (channels, *win.out)), (pool,), True)
    src = relay
    for j, level in enumerate(levels, 1):
        name = b.unique(f"{pool}_max{j}")
        if j == 1:
            w, geo = max_trees.first_kernel(level, win, channels), (win.stride, win.padding)
        else:
            w, geo = max_trees.next_kernel(level, channels, dims), ident[:2]
        syn = Synapse(
            b.unique(f"{name}_in"), src, name, "conv", w, *geo, (1,) * dims, channels,
            (pool,), exact=True,
        )  # fmt: skip
        src = _level(b, pool, syn, (channels * len(level), *win.out), len(level))
    comb = max_trees.readout(vector, channels, dims)
    last = b.shape(src)
    return Term(src, ConvMap(comb, *ident, last, (channels, *win.out)), (pool,), exact=True)
