"""Lower a quantised IR graph (see :func:`sjconvert.passes.quantize.quantize_loihi`) to a
:class:`~sjconvert.sim.fixed_point.LoihiNet`: one emitter per IR op, registered for target
``lava``. NetX describes a chain of layers, so the graph must be one: every node reads the
node before it (residual ``Add`` and ``Concat`` are refused by :func:`check`, naming them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import EmitError, UnsupportedOpError
from ...ir import nodes as ir
from ...ir.graph import Graph
from ...sim.fixed_point import Layer, LoihiNet
from ..registry import check, emitter, register

TARGET = "lava"


@dataclass
class Builder:
    """Lowering state: the shape so far, the synapse waiting for its neuron, the layers."""

    graph: Graph
    facts: dict[str, Any]
    input_shape: tuple[int, ...] = ()
    shape: tuple[int, ...] = ()
    pending: tuple[str, ir.Node] | None = None
    layers: list[Layer] = field(default_factory=list)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)


def _hard_reset(node: Any) -> str | None:
    if node.v_reset != 0.0 or np.any(np.asarray(node.v_init) != 0):
        return "needs hard reset to 0 from v_init = 0 (run quantize_loihi first)"
    return None


@register(TARGET, "Input")
def _input(name: str, node: ir.Input, b: Builder) -> None:
    b.input_shape = b.shape = tuple(node.shape)


@register(TARGET, "Flatten")
def _flatten(name: str, node: ir.Flatten, b: Builder) -> None:
    if node.start_dim != 1 or node.end_dim != -1:
        raise UnsupportedOpError(f"{b.graph.where(name)}: NetX flattens whole samples only")
    b.shape = (int(np.prod(b.shape)),)


@register(TARGET, "Linear", "Conv2d")
def _synapse(name: str, node: ir.Node, b: Builder) -> None:
    b.pending = (name, node)


def _layer(name: str, b: Builder) -> Layer:
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
        layer = Layer(
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


@register(TARGET, "IF", accepts=_hard_reset)
def _neuron(name: str, node: ir.IF, b: Builder) -> None:
    b.layers.append(_layer(name, b))


@register(TARGET, "Readout", "ReLU")
def _integrator(name: str, node: ir.Node, b: Builder) -> None:
    """Readout: a CUBA integrator or sigma output; ReLU: sigma-delta neurons."""
    b.layers.append(_layer(name, b))


def _shapes(graph: Graph) -> dict[str, tuple[int, ...]]:
    """Per-sample output shapes: the graph's own, else one rate-mode pass on zeros."""
    if all(name in graph.shapes for name in graph.nodes):
        return {k: tuple(v) for k, v in graph.shapes.items()}
    import torch

    from ...sim.reference import Program

    zeros = [torch.zeros(1, *graph.nodes[n].shape) for n in graph.inputs]
    return {k: tuple(v.shape[1:]) for k, v in Program(graph).ann(*zeros).items()}


def lower(graph: Graph) -> LoihiNet:
    """The :class:`LoihiNet` of a quantised chain graph; raises
    :class:`~sjconvert.errors.UnsupportedOpError` listing every node NetX cannot express."""
    check(graph, TARGET)
    facts = graph.meta.get("loihi")
    if facts is None:
        raise EmitError("the graph is not quantised for Loihi (run quantize_loihi first)")
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise UnsupportedOpError("NetX networks have exactly one input and one output")
    b = Builder(graph, facts, shapes=_shapes(graph))
    prev = None
    for name, node in graph:
        ins = graph.edges[name]
        if prev is not None and ins != (prev,):
            raise UnsupportedOpError(
                f"{graph.where(name)} reads {list(ins)}: NetX needs a chain of layers"
            )
        emitter(graph, name, TARGET)(name, node, b)
        prev = name
    if b.pending is not None or graph.outputs != (prev,):
        raise UnsupportedOpError("a NetX network must end with a neuron layer")
    return LoihiNet(b.input_shape, tuple(b.layers), float(facts["input_scale"]))
