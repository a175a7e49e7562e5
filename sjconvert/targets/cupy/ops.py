"""Emitters of the ``cupy`` target: each turns an IR node into a function over arrays of the
graph's array module (NumPy or CuPy), registered per op in :mod:`sjconvert.targets.registry`.

Synapses (Linear, Conv, BatchNorm) run either natively (``xp.matmul`` over an im2col view)
or through the torch kernels of the reference simulator, handed the arrays by DLPack
without copies (``synapses="torch"``); the latter computes exactly what the reference
computes, so float32 spikes stay bit-identical. Pooling reproduces torch's window order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...ir import nodes as ir
from ...sim.torch_ops import KERNELS, prepare
from ..registry import register
from .neurons import NeuronLayer

TARGET = "cupy"
Fn = Callable[[list[Any]], Any]


@dataclass(frozen=True)
class Context:
    """What every emitter needs: the array module, dtype and synapse provider."""

    xp: Any
    dtype: np.dtype
    synapses: str  # "torch" (DLPack into torch kernels) or "native"

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype.name)

    def array(self, value: Any) -> Any:
        return self.xp.asarray(np.asarray(value, dtype=self.dtype))

    def channels(self, value: Any, ndim: int) -> Any:
        arr = np.asarray(value, dtype=self.dtype)
        return self.array(arr.reshape(-1, *([1] * (ndim - 2)))) if arr.ndim else arr[()]


def _via_torch(node: ir.Node, ctx: Context) -> Fn:
    """The reference simulator's torch kernel for ``node``, on the arrays' device."""
    device = "cpu" if ctx.xp is np else "cuda"
    params = prepare(node, ctx.torch_dtype, device)
    kernel = KERNELS[node.op]

    def run(xs: list[Any]) -> Any:
        args = [torch.from_dlpack(ctx.xp.ascontiguousarray(x)) for x in xs]
        if device == "cpu":
            return ctx.xp.from_dlpack(kernel(params, args))
        cudnn = torch.backends.cudnn  # float32 convolutions, not TF32 (torch's default)
        keep = {"enabled": cudnn.enabled, "benchmark": cudnn.benchmark}
        with cudnn.flags(**keep, deterministic=cudnn.deterministic, allow_tf32=False):
            return ctx.xp.from_dlpack(kernel(params, args))

    return run


def windows(
    xp: Any, x: Any, kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...]
) -> Any:
    """``[N, C, *out, *kernel]`` view of the sliding windows over the trailing dims of ``x``."""
    d = len(kernel)
    span = tuple((k - 1) * dl + 1 for k, dl in zip(kernel, dilation, strict=True))
    view = xp.lib.stride_tricks.sliding_window_view(x, span, axis=tuple(range(2, 2 + d)))
    steps = (*stride, *dilation)
    picks = (slice(None), slice(None), *(slice(None, None, s) for s in steps))
    return view[picks]


def _pad(xp: Any, x: Any, padding: tuple[int, ...], value: float) -> Any:
    if not any(padding):
        return x
    return xp.pad(x, ((0, 0), (0, 0), *((p, p) for p in padding)), constant_values=value)


@register(TARGET, "Conv1d", "Conv2d")
def _conv(name: str, node: ir.Conv1d | ir.Conv2d, ctx: Context) -> Fn:
    if ctx.synapses == "torch":
        return _via_torch(node, ctx)
    xp, g = ctx.xp, node.groups
    w = ctx.array(node.weight)
    k = tuple(w.shape[2:])
    w_cols = w.reshape(g, w.shape[0] // g, -1)  # [groups, out/g, in/g · K]
    bias = None if node.bias is None else ctx.channels(node.bias, 2 + len(k))

    def run(xs: list[Any]) -> Any:
        x = _pad(xp, xs[0], node.padding, 0.0)
        win = windows(xp, x, k, node.stride, node.dilation)  # [N, C, *out, *K]
        n, out, d = win.shape[0], win.shape[2 : 2 + len(k)], len(k)
        perm = (0, *range(2, 2 + d), 1, *range(2 + d, 2 + 2 * d))
        cols = win.transpose(perm).reshape(n * math.prod(out), g, -1)  # [N·out, g, C/g·K]
        y = xp.matmul(cols.transpose(1, 0, 2), w_cols.transpose(0, 2, 1))  # [g, N·out, O/g]
        y = y.transpose(1, 0, 2).reshape(n, *out, -1)
        y = xp.ascontiguousarray(xp.moveaxis(y, -1, 1))
        return y if bias is None else y + bias

    return run


@register(TARGET, "Linear")
def _linear(name: str, node: ir.Linear, ctx: Context) -> Fn:
    if ctx.synapses == "torch":
        return _via_torch(node, ctx)
    wt = ctx.array(node.weight.T)
    bias = None if node.bias is None else ctx.array(node.bias)
    return lambda xs: xs[0] @ wt if bias is None else xs[0] @ wt + bias


@register(TARGET, "BatchNorm")
def _bn(name: str, node: ir.BatchNorm, ctx: Context) -> Fn:
    if ctx.synapses == "torch":
        return _via_torch(node, ctx)

    def run(xs: list[Any]) -> Any:
        x, nd = xs[0], xs[0].ndim
        inv = ctx.channels(node.gamma / np.sqrt(node.var + node.eps), nd)
        return (x - ctx.channels(node.mean, nd)) * inv + ctx.channels(node.beta, nd)

    return run


@register(TARGET, "AvgPool1d", "AvgPool2d", "MaxPool1d", "MaxPool2d")
def _pool(name: str, node: Any, ctx: Context) -> Fn:
    """Average: window elements summed one by one in row-major order, then divided by the
    window size (zero padding counted) — torch's order, so the results are identical.
    Max: the maximum over the window (padding −∞)."""
    xp, k = ctx.xp, node.kernel_size
    is_max = isinstance(node, (ir.MaxPool1d, ir.MaxPool2d))
    ones = (1,) * len(k)
    size = ctx.dtype.type(math.prod(k))

    def run(xs: list[Any]) -> Any:
        x = _pad(xp, xs[0], node.padding, -math.inf if is_max else 0.0)
        win = windows(xp, x, k, node.stride, ones)
        if is_max:
            return win.max(axis=tuple(range(-len(k), 0)))
        flat = win.reshape(*win.shape[: -len(k)], -1)
        acc = flat[..., 0].copy()
        for j in range(1, flat.shape[-1]):
            acc += flat[..., j]
        return acc / size

    return run


@register(TARGET, "ReLU")
def _relu(name: str, node: ir.ReLU, ctx: Context) -> Fn:
    return lambda xs: ctx.xp.maximum(xs[0], ctx.dtype.type(0))


@register(TARGET, "Flatten")
def _flatten(name: str, node: ir.Flatten, ctx: Context) -> Fn:
    def run(xs: list[Any]) -> Any:
        shape = xs[0].shape
        end = node.end_dim % len(shape)
        merged = math.prod(shape[node.start_dim : end + 1])
        return xs[0].reshape(*shape[: node.start_dim], merged, *shape[end + 1 :])

    return run


@register(TARGET, "Reshape")
def _reshape(name: str, node: ir.Reshape, ctx: Context) -> Fn:
    return lambda xs: xs[0].reshape(xs[0].shape[0], *node.shape)


@register(TARGET, "Concat")
def _concat(name: str, node: ir.Concat, ctx: Context) -> Fn:
    return lambda xs: ctx.xp.concatenate(xs, axis=node.dim)


@register(TARGET, "Scale")
def _scale(name: str, node: ir.Scale, ctx: Context) -> Fn:
    return lambda xs: xs[0] * ctx.channels(node.factor, xs[0].ndim)


@register(TARGET, "Identity", "Dropout")
def _identity(name: str, node: ir.Node, ctx: Context) -> Fn:
    return lambda xs: xs[0]


@register(TARGET, "IF", "LIF")
def _neuron(name: str, node: ir.IF | ir.LIF, ctx: Context) -> NeuronLayer:
    return NeuronLayer(node, ctx.xp, ctx.dtype)


@register(TARGET, "Input", "Readout", "Add")
def _scheduled(name: str, node: ir.Node, ctx: Context) -> None:
    """Graph inputs, residual sums and readouts are handled by the graph's schedule."""
