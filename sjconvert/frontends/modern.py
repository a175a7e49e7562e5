"""Capture builders for the ops of modern classifiers: smooth activations, layer norm,
products of two values, parameters combined with the data (class token, position
embedding, layer scale), matrix products, roll and pad; with :mod:`.attention`, everything
torchvision's EfficientNet, MobileNetV3, RegNetY, ConvNeXt, ViT, Swin and MaxViT use.

:func:`register` adds them to the builder maps of :mod:`.builders` and :mod:`.functions`
(``sjconvert.frontends`` calls it once on import).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..ir import nodes as ir
from . import attention
from .blocks import INPUT, Block
from .builders import MODULE_BUILDERS, NAMED_BUILDERS, Chain, Ctx, NamedBuilder, Unsupported
from .constants import per_sample
from .functions import FUNCTION_BUILDERS, NAMED_FUNCTIONS, _number, product_reason


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float32).numpy().copy()


def layer_norm(weight: Any, bias: Any, eps: float, shape: tuple[int, ...]) -> ir.LayerNorm:
    """Layer norm over the last axes ``shape`` (weight 1 and bias 0 where absent)."""
    w = np.ones(shape, np.float32) if weight is None else _np(weight)
    b = np.zeros(shape, np.float32) if bias is None else _np(bias)
    return ir.LayerNorm(w, b, float(eps))


def _layer_norm_module(m: nn.LayerNorm, ctx: Ctx) -> ir.Node | Chain:
    """``nn.LayerNorm``; torchvision's ConvNeXt ``LayerNorm2d`` normalises the channel axis
    of ``[C, H, W]``: moved last, normalised, moved back."""
    node = layer_norm(m.weight, m.bias, m.eps, tuple(m.normalized_shape))
    if type(m).__name__ != "LayerNorm2d":
        return node
    c, h, w = ctx.in_shape
    return Chain(
        (
            (ir.Transpose((2, 3, 1)), (h, w, c)),
            (node, (h, w, c)),
            (ir.Transpose((3, 1, 2)), (c, h, w)),
        )
    )


def _layer_norm_fn(ctx: Ctx) -> ir.Node:
    shape = ctx.arg(1, "normalized_shape")
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return layer_norm(ctx.arg(2, "weight"), ctx.arg(3, "bias"), ctx.arg(4, "eps", 1e-5), shape)


def _consts(ctx: Ctx) -> list[torch.Tensor]:
    return [a for a in ctx.args[:2] if isinstance(a, torch.Tensor)]


def _constant(b: Block, value: torch.Tensor, ctx: Ctx) -> str:
    """A Constant part holding ``value`` as one sample of the call's result sees it."""
    v = per_sample(value, ctx.lead + len(ctx.out_shape))
    v = np.broadcast_to(v, (*([1] * (len(ctx.out_shape) - v.ndim)), *v.shape))
    return b.add("const", ir.Constant(v), (INPUT,), v.shape)


def _with_constant(ctx: Ctx, op: ir.Node) -> Block:
    """``op(data, constant)`` in the call's argument order, the constant a Constant part
    broadcast to the result's shape."""
    (value,) = _consts(ctx)
    b = Block()
    full = per_sample(value, ctx.lead + len(ctx.out_shape))
    full = np.ascontiguousarray(np.broadcast_to(full, ctx.out_shape))
    const = b.add("const", ir.Constant(full), (INPUT,), ctx.out_shape)
    first = isinstance(ctx.args[0], torch.Tensor)
    b.add("op", op, (const, 0) if first else (0, const), ctx.out_shape)
    return b


def _mul(ctx: Ctx) -> ir.Node | Block:
    """``x * c`` (a number or a per-channel constant: a Scale), ``x * P`` (a constant of
    any shape: a Constant and a Mul) or ``a * b`` (two values: a Mul)."""
    numbers = [a for a in ctx.args[:2] if _number(a)]
    if numbers:
        return ir.Scale(float(numbers[0]))
    consts = _consts(ctx)
    if not consts:
        if len(ctx.shapes) != 2:
            raise Unsupported(product_reason(ctx))
        return ir.Mul()
    v = per_sample(consts[0], ctx.lead + len(ctx.out_shape))
    if v.ndim == len(ctx.out_shape) and v.size == v.shape[0] == ctx.out_shape[0]:
        return ir.Scale(v.reshape(-1))  # per channel (a layer scale)
    if v.size == 1:
        return ir.Scale(float(v.reshape(())))
    return _with_constant(ctx, ir.Mul())


def _add(ctx: Ctx) -> ir.Node | Block:
    """``a + b``; one of them may be a constant (a position embedding)."""
    if any(_number(a) for a in ctx.args[:2]) or ctx.arg(2, "alpha", 1) != 1:
        raise Unsupported("adds a constant (only tensor + tensor is supported)")
    return _with_constant(ctx, ir.Add()) if _consts(ctx) else ir.Add()


def _cat(ctx: Ctx) -> ir.Node | Block:
    """``cat`` of values and constants (a class token expanded to the batch)."""
    items = ctx.arg(0, "tensors")
    dim = ctx.dim(ctx.arg(1, "dim", 0))
    if not any(isinstance(t, torch.Tensor) for t in items):
        return ir.Concat(dim)
    b, refs, k = Block(), [], 0
    for t in items:
        if isinstance(t, torch.Tensor):
            refs.append(_constant(b, t, ctx))
        else:
            refs.append(k)
            k += 1
    b.add("cat", ir.Concat(dim), tuple(refs), ctx.out_shape)
    return b


def _matmul(ctx: Ctx) -> ir.Node:
    """``a @ b`` of two values; ``x @ W`` with a constant matrix is a Linear."""
    consts = _consts(ctx)
    if consts:
        w = consts[0]
        if isinstance(ctx.args[0], torch.Tensor) or w.ndim != 2:
            raise Unsupported("a constant on the left of a matrix product")
        return ir.Linear(_np(w).T.copy(), None)
    a, b = ctx.shapes
    if len(a) != len(b) or a[:-2] != b[:-2]:
        raise Unsupported(f"matrix product broadcasting {list(a)} and {list(b)}")
    return ir.MatMul()


def _roll(ctx: Ctx) -> ir.Node:
    shifts, dims = ctx.arg(1, "shifts"), ctx.arg(2, "dims")
    if dims is None:
        raise Unsupported("roll over the flattened tensor")
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return ir.Roll(shifts, tuple(ctx.dim(d) for d in dims))


def _pad(ctx: Ctx) -> ir.Node:
    mode, value = ctx.arg(2, "mode", "constant"), ctx.arg(3, "value", None)
    if mode != "constant" or value not in (None, 0, 0.0):
        raise Unsupported(f"padding mode {mode!r} with value {value} (only zeros)")
    pads = tuple(int(p) for p in ctx.arg(1, "pad"))
    if len(pads) // 2 > len(ctx.in_shape):
        raise Unsupported("padding of the batch axis")
    return ir.Pad(pads)


def _gelu(ctx: Ctx) -> ir.Node:
    return ir.GELU(tanh=ctx.arg(1, "approximate", "none") == "tanh")


def _unary(cls: type[ir.Node]) -> Callable[[Ctx], ir.Node]:
    return lambda ctx: cls()


_FUNCTIONS: dict[Any, Callable[[Ctx], Any]] = {
    **dict.fromkeys((F.gelu, "gelu"), _gelu),
    **dict.fromkeys((F.silu, "silu"), _unary(ir.SiLU)),
    **dict.fromkeys((F.hardswish,), _unary(ir.Hardswish)),
    **dict.fromkeys((F.hardsigmoid,), _unary(ir.Hardsigmoid)),
    **dict.fromkeys((torch.sigmoid, F.sigmoid, "sigmoid", "sigmoid_"), _unary(ir.Sigmoid)),
    **dict.fromkeys((torch.tanh, F.tanh, "tanh", "tanh_"), _unary(ir.Tanh)),
    F.layer_norm: _layer_norm_fn,
    **dict.fromkeys((operator.mul, operator.imul, torch.mul, "mul", "mul_"), _mul),
    **dict.fromkeys((operator.add, operator.iadd, torch.add, "add", "add_"), _add),
    **dict.fromkeys((torch.cat, torch.concat, torch.concatenate), _cat),
    **dict.fromkeys((torch.matmul, operator.matmul, "matmul", torch.bmm, "bmm"), _matmul),
    **dict.fromkeys((torch.roll, "roll"), _roll),
    F.pad: _pad,
}
_MODULES: dict[type, Callable[[Any, Ctx], Any]] = {
    nn.GELU: lambda m, c: ir.GELU(tanh=m.approximate == "tanh"),
    nn.SiLU: lambda m, c: ir.SiLU(),
    nn.Hardswish: lambda m, c: ir.Hardswish(),
    nn.Hardsigmoid: lambda m, c: ir.Hardsigmoid(),
    nn.Sigmoid: lambda m, c: ir.Sigmoid(),
    nn.Tanh: lambda m, c: ir.Tanh(),
    nn.LayerNorm: _layer_norm_module,
    nn.MultiheadAttention: attention.multihead_attention,
}


def register() -> None:
    """Add these builders to the tables capture reads (once; :mod:`sjconvert.frontends`
    calls it on import)."""
    if nn.GELU in MODULE_BUILDERS:
        return
    for module, build in _MODULES.items():
        MODULE_BUILDERS.add((module,), build)
    for fn, build in _FUNCTIONS.items():
        FUNCTION_BUILDERS.add((fn,), build)
    for name, build in attention.NAMED_FUNCTIONS.items():
        NAMED_FUNCTIONS.add((name,), build)
    for name, (attrs, op, build) in attention.NAMED_MODULES.items():
        NAMED_BUILDERS.add((name,), NamedBuilder(attrs, op, build))
