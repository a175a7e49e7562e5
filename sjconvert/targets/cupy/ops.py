"""Emitters of the ``cupy`` target, one per IR node class in :data:`REGISTRY`.

Every node runs by default as the simulator over arrays does it (:mod:`sjconvert.exec.
arraysim`): stateless ops through the shared torch kernels on the arrays' memory (DLPack),
stateful ones by their step program — so an emitter returns None for that. The target's own
mappings: synapses, pooling and data movement natively in NumPy/CuPy (``synapses="native"``,
for a GPU whose torch has no CUDA: ``xp.matmul`` over an im2col view, pooling in torch's
window order) and, on CuPy, stateful nodes as one fused kernel per layer (:mod:`.fused`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...exec.arrays import Arrays
from ...ir import nodes as ir
from ...ops import KERNELS, PROGRAMS
from ..registry import Registry
from .fused import FusedStateful

Fn = Callable[[list[Any]], Any]


@dataclass(frozen=True)
class Context:
    """What every emitter needs: the arrays (module and dtype) and the synapse provider."""

    arrays: Arrays
    synapses: str  # "torch" (DLPack into torch kernels) or "native"

    @property
    def xp(self) -> Any:
        return self.arrays.xp

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.arrays.dtype)

    def array(self, value: Any) -> Any:
        return self.arrays.asarray(value)

    def channels(self, value: Any, ndim: int) -> Any:
        return self.arrays.constant(value, ndim)


REGISTRY: Registry[Context, Any] = Registry("cupy")
NATIVE: set[type[ir.Node]] = set()


def native(*classes: type[ir.Node]) -> Callable[[Callable[..., Fn]], Callable[..., Fn | None]]:
    """Register a native implementation, used with ``synapses="native"`` (else None: the
    torch kernel runs)."""

    def deco(fn: Callable[..., Fn]) -> Callable[..., Fn | None]:
        def emit(name: str, node: Any, ctx: Context) -> Fn | None:
            return fn(name, node, ctx) if ctx.synapses == "native" else None

        NATIVE.update(classes)
        REGISTRY.add(classes, emit)
        return emit

    return deco


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


@native(ir.Conv1d, ir.Conv2d)
def _conv(name: str, node: ir.Conv1d | ir.Conv2d, ctx: Context) -> Fn:
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


@native(ir.Linear)
def _linear(name: str, node: ir.Linear, ctx: Context) -> Fn:
    wt = ctx.array(node.weight.T)
    bias = None if node.bias is None else ctx.array(node.bias)
    return lambda xs: xs[0] @ wt if bias is None else xs[0] @ wt + bias


@native(ir.BatchNorm)
def _bn(name: str, node: ir.BatchNorm, ctx: Context) -> Fn:
    def run(xs: list[Any]) -> Any:
        x, nd = xs[0], xs[0].ndim
        inv = ctx.channels(node.gamma / np.sqrt(node.var + node.eps), nd)
        return (x - ctx.channels(node.mean, nd)) * inv + ctx.channels(node.beta, nd)

    return run


def _plain_pool(node: Any) -> str | None:
    if node.ceil_mode or any(d != 1 for d in getattr(node, "dilation", (1,))):
        return "ceil mode or dilation"
    if not getattr(node, "count_include_pad", True) or getattr(node, "divisor_override", None):
        return "a divisor other than the window size"
    return None


@native(ir.AvgPool1d, ir.AvgPool2d, ir.MaxPool1d, ir.MaxPool2d)
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


@native(ir.ReLU)
def _relu(name: str, node: ir.ReLU, ctx: Context) -> Fn:
    return lambda xs: ctx.xp.maximum(xs[0], ctx.dtype.type(0))


@native(ir.Flatten)
def _flatten(name: str, node: ir.Flatten, ctx: Context) -> Fn:
    def run(xs: list[Any]) -> Any:
        shape = xs[0].shape
        end = node.end_dim % len(shape)
        merged = math.prod(shape[node.start_dim : end + 1])
        return xs[0].reshape(*shape[: node.start_dim], merged, *shape[end + 1 :])

    return run


@native(ir.Reshape)
def _reshape(name: str, node: ir.Reshape, ctx: Context) -> Fn:
    return lambda xs: xs[0].reshape(xs[0].shape[0], *node.shape)


@native(ir.Concat)
def _concat(name: str, node: ir.Concat, ctx: Context) -> Fn:
    return lambda xs: ctx.xp.concatenate(xs, axis=node.dim)


@native(ir.Scale)
def _scale(name: str, node: ir.Scale, ctx: Context) -> Fn:
    return lambda xs: xs[0] * ctx.channels(node.factor, xs[0].ndim)


@native(ir.Identity, ir.Dropout)
def _identity(name: str, node: ir.Node, ctx: Context) -> Fn:
    return lambda xs: xs[0]


def _stateful(name: str, node: ir.Node, ctx: Context) -> FusedStateful | None:
    """On CuPy one fused kernel per layer; with NumPy the step program runs chunk by chunk."""
    return FusedStateful(node, ctx.arrays) if ctx.xp is not np else None


def _default(name: str, node: ir.Node, ctx: Context) -> None:
    """Run as the array simulator runs it: by the schedule itself (inputs, adds, readouts,
    delays) or through the shared torch kernel."""


REGISTRY.add(PROGRAMS, _stateful)
REGISTRY.add((ir.Input, ir.Readout, ir.Add, ir.Delay), _default)
REGISTRY.add([c for c in KERNELS if c not in NATIVE and c not in REGISTRY.entries], _default)


def native_problems(graph: Any) -> list[str]:
    """Nodes ``synapses="native"`` cannot run (no native implementation, or a pool with
    ceil mode, dilation or another divisor)."""
    out = []
    for name, node in graph:
        if node.stateful or isinstance(node, (ir.Input, ir.Add, ir.Readout)):
            continue
        why = "no native implementation" if type(node) not in NATIVE else None
        if (
            why is None
            and node.pool
            and not isinstance(node, ir.AdaptiveAvgPool1d | ir.AdaptiveAvgPool2d)
        ):
            why = _plain_pool(node)
        if why:
            out.append(f"{graph.where(name)} ({node.op}): {why}")
    return out
