"""Stateless IR ops as plain torch modules (registered for the ``lynxi`` and ``onnx`` targets).

Every module here runs on a batch ``[B, ...]`` where ``B`` is the batch ``N`` or time and
batch folded together (``T·N``), keeps the rank of its input (at most 4 for the IR's 1-D and
2-D layers), and uses no in-place op. Parameters are buffers in the module's dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...ir import nodes as ir
from ..registry import register

TARGETS = ("lynxi", "onnx")


def register_all(*ops: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register one emitter for every target built from these torch modules."""

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        for target in TARGETS:
            register(target, *ops)(fn)
        return fn

    return deco


class Layer(nn.Module):
    """A stateless op: ``forward(*xs)`` applies ``fn`` with the node's tensors as buffers."""

    def __init__(self, kind: str, node: ir.Node, dtype: torch.dtype, **consts: Any) -> None:
        super().__init__()
        self.kind, self.node = kind, node
        for key, value in {**node.params(), **consts}.items():
            if isinstance(value, np.ndarray):
                self.register_buffer(key, torch.tensor(value, dtype=dtype))
            elif key in consts:
                setattr(self, key, value)

    def extra_repr(self) -> str:
        return self.kind

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return APPLY[self.kind](self, self.node, xs)


def _channel(t: torch.Tensor, ndim: int) -> torch.Tensor:
    """A per-channel vector as ``[C, 1, ...]`` for axis 1 of an ``ndim``-D batch."""
    return t if t.ndim == 0 else t.reshape(-1, *([1] * (ndim - 2)))


def _add(m: Layer, node: Any, xs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    # Scalar scales folded into the sum exactly as the reference simulator applies them:
    # Y = f_0·X_0, then Y = Y + f_i·X_i with torch.add(alpha=f_i).
    alphas: tuple[float, ...] = m.alphas
    out = xs[0] * alphas[0] if alphas[0] != 1.0 else xs[0]
    for x, a in zip(xs[1:], alphas[1:], strict=True):
        out = torch.add(out, x, alpha=a) if a != 1.0 else out + x
    return out


APPLY: dict[str, Callable[[Layer, Any, tuple[torch.Tensor, ...]], torch.Tensor]] = {
    "linear": lambda m, n, xs: F.linear(xs[0], m.weight, getattr(m, "bias", None)),
    "conv1d": lambda m, n, xs: F.conv1d(
        xs[0], m.weight, getattr(m, "bias", None), n.stride, n.padding, n.dilation, n.groups
    ),
    "conv2d": lambda m, n, xs: F.conv2d(
        xs[0], m.weight, getattr(m, "bias", None), n.stride, n.padding, n.dilation, n.groups
    ),
    "batchnorm": lambda m, n, xs: F.batch_norm(
        xs[0], m.mean, m.var, m.gamma, m.beta, False, 0.0, n.eps
    ),
    "relu": lambda m, n, xs: torch.relu(xs[0]),
    "avgpool1d": lambda m, n, xs: F.avg_pool1d(xs[0], n.kernel_size, n.stride, n.padding),
    "avgpool2d": lambda m, n, xs: F.avg_pool2d(xs[0], n.kernel_size, n.stride, n.padding),
    "maxpool1d": lambda m, n, xs: F.max_pool1d(xs[0], n.kernel_size, n.stride, n.padding),
    "maxpool2d": lambda m, n, xs: F.max_pool2d(xs[0], n.kernel_size, n.stride, n.padding),
    "flatten": lambda m, n, xs: torch.flatten(xs[0], n.start_dim, n.end_dim),
    "reshape": lambda m, n, xs: xs[0].reshape(-1, *n.shape),
    "add": _add,
    "concat": lambda m, n, xs: torch.cat(xs, dim=n.dim),
    "scale": lambda m, n, xs: xs[0] * _channel(m.factor, xs[0].ndim),
    "softmax": lambda m, n, xs: (F.log_softmax if n.log else F.softmax)(xs[0], dim=n.dim),
    "identity": lambda m, n, xs: xs[0],
}

KINDS = {
    "Linear": "linear",
    "Conv1d": "conv1d",
    "Conv2d": "conv2d",
    "BatchNorm": "batchnorm",
    "ReLU": "relu",
    "AvgPool1d": "avgpool1d",
    "AvgPool2d": "avgpool2d",
    "MaxPool1d": "maxpool1d",
    "MaxPool2d": "maxpool2d",
    "Flatten": "flatten",
    "Reshape": "reshape",
    "Concat": "concat",
    "Scale": "scale",
    "Softmax": "softmax",
    "Dropout": "identity",
    "Identity": "identity",
}


@register_all(*KINDS)
def stateless(name: str, node: ir.Node, ctx: Any) -> nn.Module:
    """A :class:`Layer` for a stateless node (a scalar Scale folded into an Add: identity)."""
    if name in ctx.into_add:
        return Layer("identity", node, ctx.dtype)
    return Layer(KINDS[node.op], node, ctx.dtype)


@register_all("Add")
def add(name: str, node: ir.Add, ctx: Any) -> nn.Module:
    """An Add that applies the scalar scales of its inputs (see :func:`_add`)."""
    alphas = tuple(ctx.into_add.get(src, 1.0) for src in ctx.graph.edges[name])
    return Layer("add", node, ctx.dtype, alphas=alphas)


@register_all("Input")
def graph_input(name: str, node: ir.Input, ctx: Any) -> None:
    """Graph inputs are the module's arguments (``[N, ...]``, or ``[T·N, ...]`` sequences)."""
