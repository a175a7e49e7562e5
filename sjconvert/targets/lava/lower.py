"""Lower a quantised IR graph (see :func:`.quantize.quantize_loihi`) to a
:class:`~.fixed_point.LoihiNet`: one emitter per IR node class, in :data:`REGISTRY`. NetX
describes a chain of layers, so the graph must be one: every node reads the node before it
(residual ``Add`` and ``Concat`` are refused by the registry check, naming them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import EmitError, UnsupportedOpError
from ...exec.shapes import with_shapes
from ...ir import nodes as ir
from ...ir.graph import Graph
from ..registry import Registry
from .fixed_point import LoihiLayer, LoihiNet


@dataclass
class Builder:
    """Lowering state: the shape so far, the synapse waiting for its neuron, the layers."""

    graph: Graph
    facts: dict[str, Any]
    input_shape: tuple[int, ...] = ()
    shape: tuple[int, ...] = ()
    pending: tuple[str, ir.Node] | None = None
    layers: list[LoihiLayer] = field(default_factory=list)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)


REGISTRY: Registry[Builder, None] = Registry("lava")


def _hard_reset(node: Any) -> str | None:
    if node.v_reset != 0.0 or np.any(np.asarray(node.v_init) != 0):
        return "needs hard reset to 0 from v_init = 0 (run quantize_loihi first)"
    return None


@REGISTRY.register(ir.Input)
def _input(name: str, node: ir.Input, b: Builder) -> None:
    b.input_shape = b.shape = tuple(node.shape)


@REGISTRY.register(ir.Flatten)
def _flatten(name: str, node: ir.Flatten, b: Builder) -> None:
    if node.start_dim != 1 or node.end_dim != -1:
        raise UnsupportedOpError(f"{b.graph.where(name)}: NetX flattens whole samples only")
    b.shape = (int(np.prod(b.shape)),)


@REGISTRY.register(ir.Linear, ir.Conv2d)
def _synapse(name: str, node: ir.Node, b: Builder) -> None:
    b.pending = (name, node)


def _layer(name: str, b: Builder) -> LoihiLayer:
    if b.pending is None:
        raise UnsupportedOpError(f"{b.graph.where(name)}: a neuron must follow a synapse")
    syn_name, syn = b.pending
    facts = b.facts["layers"].get(syn_name)
    if facts is None:
        raise EmitError(f"{b.graph.where(syn_name)} is not quantised (run quantize_loihi)")
    out = b.shapes[syn_name]
    conv = isinstance(syn, ir.Conv2d)
    extra = (
        {
            "stride": syn.stride,
            "padding": syn.padding,
            "dilation": syn.dilation,
            "groups": syn.groups,
        }
        if conv
        else {}
    )
    bias = None if syn.bias is None else np.rint(syn.bias).astype(np.int64)
    try:
        layer = LoihiLayer(
            name=syn_name,
            kind="conv" if conv else "dense",
            weight=np.rint(syn.weight).astype(np.int64),
            in_shape=b.shape,
            shape=out,
            vth=facts["vth"],
            i_decay=facts["i_decay"],
            v_decay=facts["v_decay"],
            bias=bias,
            neuron=facts.get("model", "cuba"),
            **extra,
        )
    except ValueError as exc:
        raise EmitError(f"{b.graph.where(syn_name)}: {exc}") from None
    b.pending, b.shape = None, out
    return layer


@REGISTRY.register(ir.IF, accepts=_hard_reset)
def _neuron(name: str, node: ir.IF, b: Builder) -> None:
    b.layers.append(_layer(name, b))


@REGISTRY.register(ir.Readout, ir.ReLU)
def _integrator(name: str, node: ir.Node, b: Builder) -> None:
    """Readout: a CUBA integrator or sigma output; ReLU: sigma-delta neurons."""
    b.layers.append(_layer(name, b))


def lower(graph: Graph) -> LoihiNet:
    """The :class:`LoihiNet` of a quantised chain graph; raises
    :class:`~sjconvert.errors.UnsupportedOpError` listing every node NetX cannot express."""
    REGISTRY.check(graph)
    facts = graph.meta.get("loihi")
    if facts is None:
        raise EmitError("the graph is not quantised for Loihi (run quantize_loihi first)")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedOpError("NetX networks have exactly one input and one output")
    b = Builder(graph, facts, shapes=dict(with_shapes(graph).shapes))
    prev = None
    for name, node in graph:
        ins = graph.edges[name]
        if prev is not None and ins != (prev,):
            raise UnsupportedOpError(
                f"{graph.where(name)} reads {list(ins)}: NetX needs a chain of layers"
            )
        REGISTRY.emitter(graph, name)(name, node, b)
        prev = name
    if b.pending is not None or graph.outputs != (prev,):
        raise UnsupportedOpError("a NetX network must end with a neuron layer")
    return LoihiNet(b.input_shape, tuple(b.layers), float(facts["input_scale"]))
