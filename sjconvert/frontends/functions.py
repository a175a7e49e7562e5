"""Torch functions and tensor methods (fx ``call_function`` / ``call_method`` targets;
methods keyed by name) to IR node builders: :data:`FUNCTION_BUILDERS` and
:data:`NAMED_FUNCTIONS`, tables of :mod:`.registry`, extensible by callers.

Calls that return several tensors (``chunk``, ``split``) are :data:`SPLITS`: capture keeps
their parts as slices of the input and turns each ``getitem`` into a :class:`ir.Slice`.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ..ir import nodes as ir
from .builders import Chain, Ctx, Unsupported, adaptive_avg, clamp, flatten, pool, softmax_dim
from .builders import threshold as _threshold
from .registry import Builders


def reshape(ctx: Ctx) -> ir.Node:
    """Any reshape that keeps the batch axis (view, reshape, unsqueeze, squeeze, unflatten):
    a flatten to one axis, else a per-sample :class:`ir.Reshape` to the traced shape."""
    if not ctx.keeps_lead:
        raise Unsupported("reshapes across the batch axis")
    if ctx.out_shape == ctx.in_shape:
        return ir.Identity()
    if ctx.out_shape == (math.prod(ctx.in_shape),):
        return ir.Flatten(1, -1)
    return ir.Reshape(ctx.out_shape)


def _transpose(ctx: Ctx) -> ir.Node:
    a, b = ctx.dim(ctx.arg(1, "dim0")), ctx.dim(ctx.arg(2, "dim1"))
    dims = list(range(1, len(ctx.in_shape) + 1))
    dims[a - 1], dims[b - 1] = dims[b - 1], dims[a - 1]
    return ir.Transpose(tuple(dims))


def _permute(ctx: Ctx) -> ir.Node:
    dims = ctx.args[1:] if not isinstance(ctx.arg(1, "dims"), (tuple, list)) else ctx.arg(1, "dims")
    full = [d + ctx.rank if d < 0 else d for d in dims]
    if full[: ctx.lead] != list(range(ctx.lead)):
        raise Unsupported(f"permute {tuple(dims)} moves the batch/time axis")
    return ir.Transpose(tuple(ctx.dim(d) for d in full[ctx.lead :]))


def _mean(ctx: Ctx) -> ir.Node | Chain:
    """A mean over spatial axes (``x.mean((2, 3))``, ``torch.mean(x, -1, keepdim=True)``) is
    an average pool whose window spans those axes."""
    dims = ctx.arg(1, "dim")
    if dims is None:
        raise Unsupported("mean over all axes")
    dims = {ctx.dim(d) for d in ((dims,) if isinstance(dims, int) else dims)}
    spatial = ctx.in_shape[1:]
    if 1 in dims or len(spatial) not in (1, 2):
        raise Unsupported(f"mean over dims {sorted(dims)} (only over spatial axes)")
    k = tuple(n if d + 2 in dims else 1 for d, n in enumerate(spatial))
    node = (ir.AvgPool1d if len(spatial) == 1 else ir.AvgPool2d)(k, k, 0)
    if ctx.arg(2, "keepdim", False):
        return node
    pooled = (ctx.in_shape[0], *(1 if d + 2 in dims else n for d, n in enumerate(spatial)))
    return Chain(((node, pooled), (reshape(Ctx(pooled, ctx.out_shape, 1)), ctx.out_shape)))


def _dropout(training_default: bool, p_at: int = 1, train_at: int = 2) -> Callable[[Ctx], ir.Node]:
    """Functional dropout: the identity unless it is active at inference."""

    def build(ctx: Ctx) -> ir.Node:
        if ctx.arg(train_at, "training", ctx.arg(train_at, "train", training_default)):
            raise Unsupported("dropout with training=True is random at inference")
        return ir.Dropout(float(ctx.arg(p_at, "p", 0.5)))

    return build


def _pool_fn(kind: str, dims: int) -> Callable[[Ctx], ir.Node]:
    names = (
        ("stride", "padding", "dilation", "ceil_mode", "return_indices")
        if kind == "Max"
        else ("stride", "padding", "ceil_mode", "count_include_pad", "divisor_override")
    )
    defaults = {"padding": 0, "dilation": 1, "ceil_mode": False, "count_include_pad": True}

    def build(ctx: Ctx) -> ir.Node:
        given = {n: ctx.arg(i + 2, n, defaults.get(n)) for i, n in enumerate(names)}
        stride, padding = given.pop("stride"), given.pop("padding")
        ceil = given.pop("ceil_mode")
        return pool(kind, dims, ctx.arg(1, "kernel_size"), stride, padding, ceil, **given)

    return build


def _number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _scale(divide: bool) -> Callable[[Ctx], ir.Node]:
    """``x * c`` / ``c * x`` / ``x / c`` with a number ``c``: a :class:`ir.Scale`."""

    def build(ctx: Ctx) -> ir.Node:
        consts = [a for a in ctx.args[:2] if _number(a)]
        if len(consts) != 1 or (divide and not _number(ctx.args[1])):
            raise Unsupported(product_reason(ctx))
        if ctx.arg(2, "rounding_mode") is not None:
            raise Unsupported("division with rounding")
        c = float(consts[0])
        return ir.Scale(1.0 / c if divide else c)

    return build


def product_reason(ctx: Ctx) -> str:
    """Why a product of two tensors is refused; a ``[C, 1, 1]`` gate on a ``[C, H, W]``
    feature map is squeeze-and-excitation."""
    gated = any(len(s) > 1 and math.prod(s[1:]) == 1 for s in ctx.shapes)
    spread = len(ctx.out_shape) > 1 and math.prod(ctx.out_shape[1:]) > 1
    return "squeeze-and-excitation" if gated and spread else "elementwise product"


def _getitem(ctx: Ctx) -> ir.Node | Chain:
    """Basic indexing of a tensor (slices with step 1, integers, ``...``, ``None``) that
    keeps the batch axis: slices, then a reshape for dropped or added axes."""
    index = ctx.args[1] if isinstance(ctx.args[1], tuple) else (ctx.args[1],)
    if any(not isinstance(i, (slice, int, type(None), type(Ellipsis))) for i in index):
        raise Unsupported(f"indexing with {index!r}")
    n_dims = sum(1 for i in index if i is not None and i is not Ellipsis)
    if Ellipsis in index:
        at = index.index(Ellipsis)
        index = index[:at] + (slice(None),) * (ctx.rank - n_dims) + index[at + 1 :]
    parts: list[tuple[ir.Node, tuple[int, ...]]] = []
    shape = list(ctx.in_shape)
    axis = 0
    for item in index:
        if item is None:
            continue
        if axis < ctx.lead and item != slice(None):
            raise Unsupported("indexes the batch/time axis")
        if axis >= ctx.lead:
            n = shape[axis - ctx.lead]
            start, stop, step = (
                slice(item, item + 1 if item != -1 else None).indices(n)
                if isinstance(item, int)
                else item.indices(n)
            )
            if step != 1 or stop <= start:
                raise Unsupported(f"slice {item} (only steps of 1, non-empty)")
            if (start, stop) != (0, n):
                shape[axis - ctx.lead] = stop - start
                parts.append((ir.Slice(axis - ctx.lead + 1, start, stop), tuple(shape)))
        axis += 1
    if tuple(shape) != ctx.out_shape:
        parts.append((reshape(Ctx(tuple(shape), ctx.out_shape, 1)), ctx.out_shape))
    if not parts:
        return ir.Identity()
    return parts[0][0] if len(parts) == 1 else Chain(tuple(parts))


def _relu(ctx: Ctx) -> ir.Node:
    return ir.ReLU()


def _clamp(ctx: Ctx) -> ir.Node:
    return clamp(ctx.arg(1, "min"), ctx.arg(2, "max"))


def _clamp_min(ctx: Ctx) -> ir.Node:
    return clamp(ctx.arg(1, "min"), None)


def _hardtanh(ctx: Ctx) -> ir.Node:
    return clamp(ctx.arg(1, "min_val", -1.0), ctx.arg(2, "max_val", 1.0))


def _softmax(log: bool) -> Callable[[Ctx], ir.Node]:
    return lambda c: ir.Softmax(softmax_dim(c.arg(1, "dim"), c), log=log)


FunctionBuilder = Callable[[Ctx], ir.Node | Chain]
# call_function / call_method targets -> builder; methods are keyed by their name.
FUNCTION_BUILDERS: Builders[Any, FunctionBuilder] = Builders("function or tensor method")
# Functions of packages sjconvert does not import, keyed by ``module.qualname``.
NAMED_FUNCTIONS: Builders[str, FunctionBuilder] = Builders("function qualified name")

_add_fn = FUNCTION_BUILDERS.add
_add_fn((F.relu, F.relu_, torch.relu, torch.relu_, "relu", "relu_"), _relu)
_add_fn((F.relu6,), lambda c: ir.ReLU(6.0))
_add_fn((F.hardtanh, F.hardtanh_, "hardtanh", "hardtanh_"), _hardtanh)
_add_fn((torch.clamp, torch.clip, "clamp", "clip", "clamp_", "clip_"), _clamp)
_add_fn((torch.clamp_min, "clamp_min", "clamp_min_"), _clamp_min)
_add_fn((F.threshold, F.threshold_), lambda c: _threshold(c.arg(1, "threshold"), c.arg(2, "value")))
# data movement
_add_fn(("view", "reshape", torch.reshape, "unsqueeze", torch.unsqueeze, "squeeze"), reshape)
_add_fn((torch.squeeze, "unflatten", torch.unflatten), reshape)
_add_fn(
    (torch.flatten, "flatten"),
    lambda c: flatten(c.arg(1, "start_dim", 0), c.arg(2, "end_dim", -1), c),
)
_add_fn((torch.transpose, "transpose", "swapaxes", torch.swapaxes), _transpose)
_add_fn((torch.permute, "permute"), _permute)
# cat, add and mul (of values, numbers and constants): frontends/modern.py
_add_fn((operator.getitem,), _getitem)
# dropout
_add_fn((F.dropout, F.dropout1d, F.dropout2d, F.dropout3d), _dropout(True))
_add_fn((F.alpha_dropout, F.feature_alpha_dropout), _dropout(False))
_add_fn((torch.dropout, torch.alpha_dropout, torch.feature_dropout), _dropout(True))
NAMED_FUNCTIONS.add(
    ("torchvision.ops.stochastic_depth.stochastic_depth",), _dropout(True, train_at=3)
)
# pooling and means
_add_fn((F.avg_pool1d,), _pool_fn("Avg", 1))
_add_fn((F.avg_pool2d,), _pool_fn("Avg", 2))
_add_fn((F.max_pool1d,), _pool_fn("Max", 1))
_add_fn((F.max_pool2d,), _pool_fn("Max", 2))
_add_fn((F.adaptive_avg_pool1d, F.adaptive_avg_pool2d), adaptive_avg)
_add_fn((torch.mean, "mean"), _mean)
# arithmetic
_add_fn((operator.truediv, operator.itruediv, torch.div, "div", "div_"), _scale(True))
# softmax
_add_fn((F.softmax, torch.softmax, "softmax"), _softmax(False))
_add_fn((F.log_softmax, torch.log_softmax, "log_softmax"), _softmax(True))


def function_builder(target: Any) -> FunctionBuilder | None:
    """The builder of a call target: by identity (or method name), else by qualified name."""
    found = FUNCTION_BUILDERS.get(target)
    if found is None and callable(target):
        name = f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', '')}"
        found = NAMED_FUNCTIONS.get(name)
    return found


# Calls that pass their tensor through unchanged, calls that split a tensor into a tuple of
# parts, and calls that only compute sizes.
PASSTHROUGH = {"contiguous", "clone", "detach", "float", torch.clone, torch.detach}
SPLITS = {"chunk", torch.chunk, "split", torch.split, "tensor_split", torch.tensor_split}
SIZE_HELPERS = {"size", "dim", getattr, operator.getitem}
# Products of two tensors, and the gates that make one squeeze-and-excitation.
PRODUCTS = {operator.mul, operator.imul, torch.mul, "mul", "mul_"}
GATES = {"Sigmoid", "Hardsigmoid", "sigmoid", "hardsigmoid", "sigmoid_"}
# In-place functions whose ``inplace`` flag may be passed by position.
_INPLACE_AT = {F.relu: 1, F.relu6: 1, F.hardtanh: 3, F.threshold: 3, F.dropout: 3}
_INPLACE_OPS = {operator.iadd, operator.imul, operator.itruediv}


def is_inplace(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Whether the call writes its result into its first argument (``relu_``, ``x += y``,
    ``F.relu(x, inplace=True)``): later reads of that argument see the result."""
    name = target if isinstance(target, str) else getattr(target, "__name__", "")
    if target in _INPLACE_OPS or (name.endswith("_") and not name.endswith("__")):
        return True
    at = _INPLACE_AT.get(target)
    return bool(kwargs.get("inplace") or (at is not None and len(args) > at and args[at]))


def call_name(target: Any) -> str:
    """A call's name for messages (``relu``, ``mul``, ``sigmoid``)."""
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))
