"""Structural passes: fold BatchNorm into the preceding synapse; drop Dropout and Identity."""

from __future__ import annotations

from ..ir import nodes as ir
from ..ir.graph import Graph
from ._math import fold_bn


def fold_bn_node(syn: ir.Linear | ir.Conv1d | ir.Conv2d, bn: ir.BatchNorm) -> ir.Node:
    """Node-level helper: the synapse with ``bn`` folded in (see :func:`_math.fold_bn`)."""
    w, b = fold_bn(syn.weight, syn.bias, bn.mean, bn.var, bn.eps, bn.gamma, bn.beta)
    return syn.evolve(weight=w, bias=b)


def fold_batchnorm(graph: Graph) -> Graph:
    """Fold every BatchNorm whose input is a Linear/Conv read by nothing else.

    ``BN(W x + b) = W̄ x + b̄`` (see :func:`sjconvert.passes._math.fold_bn`). A BatchNorm
    whose producer is used elsewhere (or is not a synapse) is left in place: it is safe to
    simulate, and later passes treat it as an affine layer.
    """
    ed = graph.editor()
    for name, node in graph:
        if not isinstance(node, ir.BatchNorm):
            continue
        (src,) = ed.edges[name]
        syn = ed.nodes[src]
        if syn.synapse and ed.uses(src) == 1:
            ed.nodes[src] = fold_bn_node(syn, node)
            ed.remove(name)
    return ed.freeze()


def remove_identities(graph: Graph) -> Graph:
    """Remove Dropout and Identity nodes (both are ``Y = X`` at inference)."""
    ed = graph.editor()
    for name, node in graph:
        if node.identity:
            ed.remove(name)
    return ed.freeze()
