"""Concatenations: each part of a channel concatenation stays a term of its own (its map
not embedded into the concat's channels until a reader needs the whole), and neurons
reading a concatenation become one population per part.

DenseNet is why: every layer's BN → ReLU reads the concatenation of all earlier outputs,
so one population over the concat gets, per part, a synapse over *all* its channels —
Σ parts × total weights per layer, most of them zeros (8 GiB for DenseNet-121 in float64).
Split per part, each population reads only its part's synapses, and each neuron reads
exactly the synapses it read before (same integer inputs); downstream a convolution reads
the parts through its matching input channels.
"""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import torch

from ....ir import nodes as ir
from ..network import Population
from .compose import ConvMap, DenseMap, FlatMap
from .populations import REGISTRY, SPLITS, Lowering, Term, _emit_synapse


def _concat_accepts(node: ir.Concat) -> str | None:
    return None if node.dim == 1 else "only channel (dim 1) concatenation"


@REGISTRY.register(ir.Concat, accepts=_concat_accepts)
def _concat(name: str, node: ir.Concat, b: Lowering) -> None:
    total, offset, out = b.shape(name)[0], 0, []
    for i in b.graph.edges[name]:  # parts kept apart, embedded only where read whole
        for t in b.read(i, parts=True):
            at = offset + (t.part[0] if t.part else 0)
            m = t.map.dense() if isinstance(t.map, FlatMap) else t.map
            out.append(Term(t.src, m, (*t.path, name), part=(at, total)))
        offset += b.shape(i)[0]
    b.terms[name] = out


def _parts(total: int, terms: list[Term]) -> list[tuple[int, int]] | None:
    """``(offset, channels)`` of each part when ``terms`` are parts of one concatenation
    that tile its ``total`` channels, else None."""
    if any(t.part is None or t.exact for t in terms):
        return None
    ranges, at = sorted({(t.part[0], t.channels()) for t in terms}), 0
    for offset, c in ranges:
        if offset != at:
            return None
        at += c
    return ranges if at == total else None


def _sliced(node: ir.Node, offset: int, c: int, total: int) -> ir.Node:
    """``node`` for its channels ``[offset, offset + c)`` (per-channel fields sliced)."""
    per = {
        f.name: v[offset : offset + c]
        for f in fields(node)
        if isinstance(v := getattr(node, f.name), np.ndarray) and v.ndim and len(v) == total
    }
    return node.evolve(**per) if per else node


def _split(b: Lowering, name: str, node: ir.Node, terms: list[Term]) -> bool:
    """Neurons reading a concatenation (DenseNet's BN → ReLU on every layer's growing
    concat) as one population per part: each part's synapse is its own map, not one
    embedded in every channel of the concat (Σ parts × total weights per layer). Each
    neuron reads the same synapses as before; the parts are one value downstream."""
    ranges = _parts(b.shape(name)[0], terms) if node.spiking else None
    if ranges is None or len(ranges) < 2 or name in b.graph.outputs:
        return False
    shape, total = b.shape(name), b.shape(name)[0]
    bias = b.consts[b.graph.edges[name][0]][0].numpy()
    out = []
    for offset, c in ranges:
        part, size = b.unique(f"{name}_ch{offset}"), (c, *shape[1:])
        node_part = _sliced(node, offset, c, total)
        pop = Population(part, node_part, size, bias[offset : offset + c], part_of=(name, offset))
        b.populations[part] = pop
        for t in terms:
            if t.part[0] == offset:
                b.synapses.append(_emit_synapse(b, replace(t, part=None), part))
        start = ConvMap.identity(size) if len(size) > 1 else DenseMap.identity(size)
        out.append(Term(part, start, (), part=(offset, total)))
    b.terms[name] = out
    b.consts[name] = torch.zeros(1, *shape, dtype=torch.float64)
    return True


SPLITS.append(_split)
