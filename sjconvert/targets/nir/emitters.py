"""NIR emitters, one per IR node class (:data:`REGISTRY`).

An emitter returns the NIR node for one IR node, or None for ops NIR expresses by its
edges alone: ``Add`` (NIR sums every edge into a node), ``Identity`` and ``Dropout``.
Parameter conventions (time step, per-channel values) are in :mod:`.convention`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import nir
import numpy as np

from ...ir import nodes as ir
from ...ir.graph import Graph
from ..registry import Registry
from .convention import dense_groups, full

META_KEY = "sjconvert"  # node metadata: IR facts NIR has no field for (JSON text)


@dataclass(frozen=True)
class ExportCtx:
    """What an emitter reads: the graph, per-sample shapes of every node, and ``dt``."""

    graph: Graph
    shapes: dict[str, tuple[int, ...]]
    dt: float

    def in_shape(self, name: str) -> tuple[int, ...]:
        return self.shapes[self.graph.edges[name][0]]


REGISTRY: Registry[ExportCtx, Any] = Registry("nir")


def _meta(**facts: Any) -> dict[str, Any]:
    return {META_KEY: json.dumps(facts)}


def _reset_reason(node: ir.IF | ir.LIF) -> str | None:
    if node.v_reset is None:
        return "NIR has no soft-reset neuron (lossy option: soft-reset-as-hard)"
    if np.any(np.asarray(node.v_init) != node.v_reset):
        return (
            f"membrane starts at v_init={node.v_init}, not at v_reset={node.v_reset}; NIR "
            "neurons start at rest (lossy option: v-init-as-reset)"
        )
    return None


@REGISTRY.register(ir.Input)
def _input(name: str, node: ir.Input, ctx: ExportCtx) -> nir.NIRNode:
    return nir.Input(input_type=np.array(node.shape))


@REGISTRY.register(ir.Linear)
def _linear(name: str, node: ir.Linear, ctx: ExportCtx) -> nir.NIRNode:
    if node.bias is None:
        return nir.Linear(weight=np.array(node.weight))
    return nir.Affine(weight=np.array(node.weight), bias=np.array(node.bias))


@REGISTRY.register(ir.Conv1d, ir.Conv2d)
def _conv(name: str, node: ir.Conv1d | ir.Conv2d, ctx: ExportCtx) -> nir.NIRNode:
    """A NIR convolution; a grouped one as the dense convolution it equals
    (:func:`.convention.dense_groups`), its groups in the metadata."""
    bias = np.zeros(node.weight.shape[0], np.float32) if node.bias is None else node.bias
    spatial = ctx.in_shape(name)[1:]
    facts: dict[str, Any] = {"bias": node.bias is not None}
    weight = np.array(node.weight)
    if node.groups != 1:
        facts["groups"] = node.groups
        weight = dense_groups(weight, node.groups)
    meta = _meta(**facts)
    if isinstance(node, ir.Conv1d):
        return nir.Conv1d(
            input_shape=spatial[0],
            weight=weight,
            stride=node.stride[0],
            padding=node.padding[0],
            dilation=node.dilation[0],
            groups=1,
            bias=np.array(bias),
            metadata=meta,
        )
    return nir.Conv2d(
        input_shape=spatial,
        weight=weight,
        stride=node.stride,
        padding=node.padding,
        dilation=node.dilation,
        groups=1,
        bias=np.array(bias),
        metadata=meta,
    )


@REGISTRY.register(ir.Flatten)
def _flatten(name: str, node: ir.Flatten, ctx: ExportCtx) -> nir.NIRNode:
    shape = ctx.in_shape(name)

    def per_sample(d: int) -> int:  # IR dims count the batch axis, NIR's do not
        return d - 1 if d > 0 else d

    return nir.Flatten(
        input_type={"input": np.array(shape)},
        start_dim=per_sample(node.start_dim),
        end_dim=per_sample(node.end_dim),
    )


def _plain(node: Any) -> str | None:
    if (
        node.ceil_mode
        or node.divisor_override
        or (any(node.padding) and not node.count_include_pad)
    ):
        return "NIR pooling has no ceil mode, no padding left out of the mean, no other divisor"
    return None


@REGISTRY.register(ir.AvgPool2d, accepts=_plain)
def _avgpool(name: str, node: ir.AvgPool2d, ctx: ExportCtx) -> nir.NIRNode:
    return nir.AvgPool2d(
        kernel_size=np.array(node.kernel_size),
        stride=np.array(node.stride),
        padding=np.array(node.padding),
    )


@REGISTRY.register(ir.AvgPool1d, accepts=_plain)
def _avgpool1d(name: str, node: ir.AvgPool1d, ctx: ExportCtx) -> nir.NIRNode:
    """NIR has no 1-D pooling: a Conv1d with ``W[o, c, k] = δ(o, c)/K`` and no bias (exact
    for power-of-two windows, where ``x/K`` is exact; dense, since consumers such as
    SpikingJelly refuse grouped convolutions). Metadata marks it for the way back."""
    channels, length = ctx.in_shape(name)
    (k,) = node.kernel_size
    weight = np.zeros((channels, channels, k), np.float32)
    weight[np.arange(channels), np.arange(channels), :] = 1.0 / k
    return nir.Conv1d(
        input_shape=length,
        weight=weight,
        stride=node.stride[0],
        padding=node.padding[0],
        dilation=1,
        groups=1,
        bias=np.zeros(channels, np.float32),
        metadata=_meta(avgpool=True),
    )


@REGISTRY.register(ir.Scale)
def _scale(name: str, node: ir.Scale, ctx: ExportCtx) -> nir.NIRNode:
    return nir.Scale(scale=full(node.factor, ctx.shapes[name]))


@REGISTRY.register(ir.IF, accepts=_reset_reason)
def _if(name: str, node: ir.IF, ctx: ExportCtx) -> nir.NIRNode:
    shape, f64 = ctx.shapes[name], np.float64
    return nir.IF(
        r=full(1.0 / ctx.dt, shape, f64),
        v_threshold=full(node.v_threshold, shape, f64),
        v_reset=full(node.v_reset, shape, f64),
    )


@REGISTRY.register(ir.LIF, accepts=_reset_reason)
def _lif(name: str, node: ir.LIF, ctx: ExportCtx) -> nir.NIRNode:
    shape, f64 = ctx.shapes[name], np.float64
    return nir.LIF(
        tau=full(node.tau * ctx.dt, shape, f64),
        r=full(1.0 if node.decay_input else node.tau, shape, f64),
        v_leak=full(node.v_reset, shape, f64),
        v_threshold=full(node.v_threshold, shape, f64),
        v_reset=full(node.v_reset, shape, f64),
        metadata=_meta(tau=node.tau, decay=node.decay, decay_input=node.decay_input),
    )


@REGISTRY.register(ir.Readout)
def _readout(name: str, node: ir.Readout, ctx: ExportCtx) -> nir.NIRNode:
    return nir.I(r=full(1.0 / ctx.dt, ctx.shapes[name], np.float64))


@REGISTRY.register(ir.Add, ir.Identity, ir.Dropout)
def _by_edges(name: str, node: ir.Node, ctx: ExportCtx) -> None:
    return None


@REGISTRY.register(ir.CubaLIF, accepts=_reset_reason)
def _cuba(name: str, node: ir.CubaLIF, ctx: ExportCtx) -> nir.NIRNode:
    """``τ_syn = dt/(1 − α)``, ``τ_mem = dt/(1 − β)``, ``w_in = τ_syn/dt``, ``r = τ_mem/dt``
    (SpikingJelly's convention): Euler steps give ``I = αI + X``, ``V = βV + I``."""
    shape, f64 = ctx.shapes[name], np.float64
    tau_syn, tau_mem = ctx.dt / (1.0 - node.c_decay), ctx.dt / (1.0 - node.v_decay)
    return nir.CubaLIF(
        tau_syn=full(tau_syn, shape, f64),
        tau_mem=full(tau_mem, shape, f64),
        r=full(tau_mem / ctx.dt, shape, f64),
        v_leak=full(0.0, shape, f64),
        v_threshold=full(node.v_threshold, shape, f64),
        v_reset=full(node.v_reset, shape, f64),
        w_in=full(tau_syn / ctx.dt, shape, f64),
        metadata=_meta(c_decay=node.c_decay, v_decay=node.v_decay),
    )


@REGISTRY.register(ir.LI)
def _li(name: str, node: ir.LI, ctx: ExportCtx) -> nir.NIRNode:
    shape, f64 = ctx.shapes[name], np.float64
    return nir.LI(
        tau=full(node.tau * ctx.dt, shape, f64),
        r=full(1.0, shape, f64),
        v_leak=full(node.v_leak, shape, f64),
        metadata=_meta(tau=node.tau),
    )


@REGISTRY.register(ir.Threshold)
def _threshold(name: str, node: ir.Threshold, ctx: ExportCtx) -> nir.NIRNode:
    return nir.Threshold(threshold=full(node.threshold, ctx.shapes[name], np.float64))


@REGISTRY.register(ir.Delay)
def _delay(name: str, node: ir.Delay, ctx: ExportCtx) -> nir.NIRNode:
    return nir.Delay(delay=full(node.steps * ctx.dt, ctx.shapes[name], np.float64))
