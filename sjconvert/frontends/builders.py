"""Maps from torch modules and functions to IR node builders (extensible by callers).

A builder receives the module (or the fx node) and a :class:`Ctx` with the traced shapes
and returns an IR node, or raises :class:`Unsupported` with the reason.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..ir import nodes as ir


class Unsupported(Exception):
    """A module or call that the IR cannot express, with the reason."""


@dataclass(frozen=True)
class Chain:
    """Several IR nodes for one torch call, each with its per-sample output shape."""

    parts: tuple[tuple[ir.Node, tuple[int, ...]], ...]


@dataclass(frozen=True)
class Ctx:
    """What a builder knows: per-sample input/output shapes and the number of leading axes
    (1 for ``[N, ...]`` models, 2 for SpikingJelly multi-step ``[T, N, ...]`` models)."""

    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    lead: int
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] | None = None

    def dim(self, d: int) -> int:
        """Translate a torch dim of the traced tensor to the IR's ``[N, ...]`` convention."""
        if d < 0:
            return d
        if d < self.lead:
            raise Unsupported(f"operates on the batch/time axis (dim={d})")
        return d - self.lead + 1

    def arg(self, i: int, name: str, default: Any = None) -> Any:
        kw = self.kwargs or {}
        return self.args[i] if len(self.args) > i else kw.get(name, default)


def _np(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().to(torch.float32).numpy()


def _conv(m: nn.Conv1d | nn.Conv2d, ctx: Ctx) -> ir.Node:
    if m.padding_mode != "zeros":
        raise Unsupported(f"padding_mode={m.padding_mode!r} (only 'zeros')")
    pad = m.padding
    if isinstance(pad, str):
        if pad == "valid":
            pad = (0,) * len(m.kernel_size)
        elif all(d * (k - 1) % 2 == 0 for d, k in zip(m.dilation, m.kernel_size, strict=True)):
            pad = tuple(d * (k - 1) // 2 for d, k in zip(m.dilation, m.kernel_size, strict=True))
        else:
            raise Unsupported("padding='same' with asymmetric padding")
    cls = ir.Conv1d if isinstance(m, nn.Conv1d) else ir.Conv2d
    return cls(_np(m.weight), _np(m.bias), m.stride, pad, m.dilation, m.groups)


def _bn(m: nn.BatchNorm1d | nn.BatchNorm2d, ctx: Ctx) -> ir.Node:
    if m.running_mean is None or m.running_var is None:
        raise Unsupported("BatchNorm without running statistics (track_running_stats=False)")
    c = m.num_features
    gamma = _np(m.weight) if m.affine else np.ones(c, np.float32)
    beta = _np(m.bias) if m.affine else np.zeros(c, np.float32)
    return ir.BatchNorm(_np(m.running_mean), _np(m.running_var), gamma, beta, float(m.eps))


def _pool(kind: str, dims: int) -> Callable[[nn.Module, Ctx], ir.Node]:
    cls = getattr(ir, f"{kind}Pool{dims}d")

    def build(m: nn.Module, ctx: Ctx) -> ir.Node:
        if getattr(m, "ceil_mode", False):
            raise Unsupported("ceil_mode=True")
        if getattr(m, "divisor_override", None) is not None:
            raise Unsupported("divisor_override")
        if kind == "Max" and (m.return_indices or np.any(np.asarray(m.dilation) != 1)):
            raise Unsupported("return_indices or dilation != 1")
        pad = np.asarray(m.padding)
        if kind == "Avg" and not m.count_include_pad and np.any(pad > 0):
            raise Unsupported("count_include_pad=False with padding")
        stride = m.stride if m.stride not in (None, ()) else m.kernel_size
        return cls(m.kernel_size, stride, m.padding)

    return build


def _adaptive_avg(m: nn.Module, ctx: Ctx) -> ir.Node:
    """Adaptive average pooling equals a plain one when each output size divides the input."""
    ins, outs = ctx.in_shape[1:], ctx.out_shape[1:]
    if any(i % o for i, o in zip(ins, outs, strict=True)):
        raise Unsupported(f"adaptive pooling {ins} -> {outs} with uneven windows")
    stride = tuple(i // o for i, o in zip(ins, outs, strict=True))
    return (ir.AvgPool1d if len(ins) == 1 else ir.AvgPool2d)(stride, stride, 0)


def _softmax_dim(dim: int | None, ctx: Ctx) -> int:
    if dim is None:
        raise Unsupported("softmax without an explicit dim")
    return ctx.dim(dim) if dim >= 0 else dim + len(ctx.out_shape) + 1


def _flatten(m: nn.Flatten, ctx: Ctx) -> ir.Node:
    if hasattr(m, "step_mode"):  # SpikingJelly's step-aware Flatten counts dims per step
        return ir.Flatten(m.start_dim, m.end_dim)
    return ir.Flatten(ctx.dim(m.start_dim), ctx.dim(m.end_dim))


NEURON_CLASSES = {"IFNode": "IF", "LIFNode": "LIF", "ParametricLIFNode": "PLIF"}


def neuron_kind(m: nn.Module) -> str | None:
    """Recognise SpikingJelly neurons by exact class name and attributes, without importing
    SpikingJelly (subclasses may change the dynamics, so they are not matched)."""
    kind = NEURON_CLASSES.get(type(m).__name__)
    if kind is None or not hasattr(m, "v_threshold") or not hasattr(m, "v_reset"):
        return None
    needs = {"IF": (), "LIF": ("tau", "decay_input"), "PLIF": ("w", "decay_input")}[kind]
    return kind if all(hasattr(m, a) for a in needs) else None


def _scalar_or_array(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return float(v) if v.numel() == 1 else _np(v)
    return float(v)


def build_neuron(m: nn.Module, ctx: Ctx) -> ir.Node:
    """IF/LIF/ParametricLIF → IR neuron. The membrane starts at ``v_reset`` (0 for soft
    reset), as in SpikingJelly; PLIF keeps its float32 ``sigmoid(w)`` as the exact decay."""
    kind = neuron_kind(m)
    v_reset = None if m.v_reset is None else _scalar_or_array(m.v_reset)
    if isinstance(v_reset, np.ndarray):
        raise Unsupported("per-neuron v_reset")
    th = _scalar_or_array(m.v_threshold)
    v0 = 0.0 if v_reset is None else v_reset
    if kind == "IF":
        return ir.IF(th, v_reset, v0)
    if kind == "LIF":
        return ir.LIF(float(m.tau), th, v_reset, bool(m.decay_input), v0)
    if m.w.numel() != 1:
        raise Unsupported("ParametricLIFNode with a non-scalar w")
    q = float(m.w.detach().float().sigmoid().reshape(()))
    return ir.LIF(1.0 / q, th, v_reset, bool(m.decay_input), v0, decay=q)


MODULE_BUILDERS: dict[type, Callable[[nn.Module, Ctx], ir.Node]] = {
    nn.Linear: lambda m, c: ir.Linear(_np(m.weight), _np(m.bias)),
    nn.Conv1d: _conv,
    nn.Conv2d: _conv,
    nn.BatchNorm1d: _bn,
    nn.BatchNorm2d: _bn,
    nn.ReLU: lambda m, c: ir.ReLU(),
    nn.ReLU6: lambda m, c: ir.ReLU(6.0),
    nn.Hardtanh: lambda m, c: _clamp(m.min_val, m.max_val),
    nn.AvgPool1d: _pool("Avg", 1),
    nn.AvgPool2d: _pool("Avg", 2),
    nn.MaxPool1d: _pool("Max", 1),
    nn.MaxPool2d: _pool("Max", 2),
    nn.AdaptiveAvgPool1d: _adaptive_avg,
    nn.AdaptiveAvgPool2d: _adaptive_avg,
    nn.Flatten: _flatten,
    nn.Dropout: lambda m, c: ir.Dropout(float(m.p)),
    nn.Dropout1d: lambda m, c: ir.Dropout(float(m.p)),
    nn.Dropout2d: lambda m, c: ir.Dropout(float(m.p)),
    nn.Identity: lambda m, c: ir.Identity(),
    nn.Softmax: lambda m, c: ir.Softmax(_softmax_dim(m.dim, c)),
    nn.LogSoftmax: lambda m, c: ir.Softmax(_softmax_dim(m.dim, c), log=True),
}


def _voltage_scaler(m: nn.Module, ctx: Ctx) -> ir.Node:
    """SpikingJelly ann2snn's ``VoltageScaler`` / ``ChannelVoltageScaler``: ``Y = s ⊙ X``
    with ``s`` a scalar or one factor per channel."""
    scale = _np(m.scale)
    if scale.ndim > 0 and scale.size > 1 and ctx.dim(getattr(m, "channel_dim", 1)) != 1:
        raise Unsupported(f"channel scale on dim {m.channel_dim} (only the channel axis 1)")
    return ir.Scale(scale.reshape(()) if scale.size == 1 else scale)


def _sj_dropout(m: nn.Module, ctx: Ctx) -> ir.Node:
    """SpikingJelly's ``layer.Dropout`` / ``Dropout2d``: one mask for all steps while
    training, the identity in eval mode (as :class:`~sjconvert.ir.nodes.Dropout`)."""
    return ir.Dropout(float(m.p))


@dataclass(frozen=True)
class NamedBuilder:
    """A builder for modules recognised by exact class name (so SpikingJelly need not be
    imported) that have the attributes ``attrs``; ``op`` is the IR node it builds."""

    attrs: tuple[str, ...]
    op: type[ir.Node]
    build: Callable[[nn.Module, Ctx], ir.Node]


NAMED_BUILDERS: dict[str, NamedBuilder] = {
    "VoltageScaler": NamedBuilder(("scale",), ir.Scale, _voltage_scaler),
    "ChannelVoltageScaler": NamedBuilder(("scale",), ir.Scale, _voltage_scaler),
    "Dropout": NamedBuilder(("p", "step_mode"), ir.Dropout, _sj_dropout),
    "Dropout2d": NamedBuilder(("p", "step_mode"), ir.Dropout, _sj_dropout),
}


def module_builder(m: nn.Module) -> Callable[[nn.Module, Ctx], ir.Node] | None:
    if neuron_kind(m):
        return build_neuron
    for cls in type(m).__mro__:
        if cls in MODULE_BUILDERS:
            return MODULE_BUILDERS[cls]
    named = NAMED_BUILDERS.get(type(m).__name__)
    if named is not None and all(hasattr(m, a) for a in named.attrs):
        return named.build
    return None


def _fn_flatten(ctx: Ctx) -> ir.Node:
    return ir.Flatten(ctx.dim(ctx.arg(1, "start_dim", 0)), ctx.dim(ctx.arg(2, "end_dim", -1)))


def _fn_reshape(ctx: Ctx) -> ir.Node:
    if ctx.out_shape == (int(np.prod(ctx.in_shape)),):
        return ir.Flatten(1, -1)
    return ir.Reshape(ctx.out_shape)


def _fn_cat(ctx: Ctx) -> ir.Node:
    d = ctx.arg(1, "dim", 0)
    return ir.Concat(ctx.dim(d) if d >= 0 else d + len(ctx.out_shape) + 1)


def _fn_mean(ctx: Ctx) -> ir.Node | Chain:
    """Global average pooling written as ``x.mean((2, 3))`` / ``torch.mean(x, dim=-1)``."""
    dims = ctx.arg(1, "dim")
    dims = (dims,) if isinstance(dims, int) else tuple(dims or ())
    spatial = ctx.in_shape[1:]
    n = len(ctx.in_shape) + 1
    wanted = {d if d >= 0 else d + n for d in (ctx.dim(d) for d in dims)}
    if not spatial or len(spatial) > 2 or wanted != set(range(2, n)):
        raise Unsupported(f"mean over dims {dims} (only over all spatial axes)")
    pool = (ir.AvgPool1d if len(spatial) == 1 else ir.AvgPool2d)(spatial, spatial, 0)
    if ctx.arg(2, "keepdim", False):
        return pool
    return Chain(((pool, (ctx.in_shape[0],) + (1,) * len(spatial)), (ir.Flatten(1, -1), ())))


def _fn_dropout(ctx: Ctx) -> ir.Node:
    return ir.Dropout(float(ctx.arg(1, "p", 0.5)))


def _fn_pool(kind: str, dims: int) -> Callable[[Ctx], ir.Node]:
    def build(ctx: Ctx) -> ir.Node:
        k = ctx.arg(1, "kernel_size")
        if ctx.arg(4, "ceil_mode", False) or (kind == "Max" and ctx.arg(5, "dilation", 1) != 1):
            raise Unsupported("ceil_mode or dilation")
        s = ctx.arg(2, "stride") or k
        return getattr(ir, f"{kind}Pool{dims}d")(k, s, ctx.arg(3, "padding", 0))

    return build


def _clamp(low: Any, high: Any) -> ir.Node:
    """``clamp(x, 0, a)`` (and ``hardtanh(x, 0, a)``, ``relu6``) is a ReLU capped at a."""
    if low is None or float(low) != 0.0 or (high is not None and not float(high) > 0):
        raise Unsupported(f"clamp to [{low}, {high}] (only [0, a] with a > 0 converts)")
    return ir.ReLU(None if high is None else float(high))


def _fn_clamp(ctx: Ctx) -> ir.Node:
    return _clamp(ctx.arg(1, "min"), ctx.arg(2, "max"))


# call_function / call_method targets -> builder; methods are keyed by their name.
FUNCTION_BUILDERS: dict[Any, Callable[[Ctx], ir.Node | Chain]] = {
    F.relu: lambda c: ir.ReLU(),
    torch.relu: lambda c: ir.ReLU(),
    "relu": lambda c: ir.ReLU(),
    F.relu6: lambda c: ir.ReLU(6.0),
    F.hardtanh: lambda c: _clamp(c.arg(1, "min_val", -1.0), c.arg(2, "max_val", 1.0)),
    torch.clamp: _fn_clamp,
    torch.clip: _fn_clamp,
    "clamp": _fn_clamp,
    "clip": _fn_clamp,
    torch.flatten: _fn_flatten,
    "flatten": _fn_flatten,
    "view": _fn_reshape,
    "reshape": _fn_reshape,
    torch.reshape: _fn_reshape,
    operator.add: lambda c: ir.Add(),
    operator.iadd: lambda c: ir.Add(),
    torch.add: lambda c: ir.Add(),
    "add": lambda c: ir.Add(),
    torch.cat: _fn_cat,
    torch.concat: _fn_cat,
    F.dropout: _fn_dropout,
    torch.mean: _fn_mean,
    F.softmax: lambda c: ir.Softmax(_softmax_dim(c.arg(1, "dim"), c)),
    F.log_softmax: lambda c: ir.Softmax(_softmax_dim(c.arg(1, "dim"), c), log=True),
    torch.softmax: lambda c: ir.Softmax(_softmax_dim(c.arg(1, "dim"), c)),
    "softmax": lambda c: ir.Softmax(_softmax_dim(c.arg(1, "dim"), c)),
    "log_softmax": lambda c: ir.Softmax(_softmax_dim(c.arg(1, "dim"), c), log=True),
    "mean": _fn_mean,
    F.avg_pool1d: _fn_pool("Avg", 1),
    F.avg_pool2d: _fn_pool("Avg", 2),
    F.max_pool1d: _fn_pool("Max", 1),
    F.max_pool2d: _fn_pool("Max", 2),
}
# Calls that pass their tensor through unchanged, and calls that only compute sizes.
PASSTHROUGH = {"contiguous", "clone", "detach", "float"}
SIZE_HELPERS = {"size", "dim", getattr, operator.getitem}
