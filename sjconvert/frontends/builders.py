"""Torch module classes to IR node builders (:data:`MODULE_BUILDERS`, :data:`NAMED_BUILDERS`:
tables of :mod:`.registry`, extensible by callers); the function and tensor-method builders
are in :mod:`.functions`.

A builder receives the module (or the fx node's arguments) and a :class:`Ctx` with the
traced shapes and returns an IR node, a :class:`Chain` of them, or raises
:class:`Unsupported` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..ir import nodes as ir
from .registry import Builders


class Unsupported(Exception):
    """A module or call that the IR cannot express, with the reason."""


@dataclass(frozen=True)
class Chain:
    """Several IR nodes for one torch call, each with its per-sample output shape."""

    parts: tuple[tuple[ir.Node, tuple[int, ...]], ...]


@dataclass(frozen=True)
class Ctx:
    """What a builder knows: per-sample input/output shapes, the number of leading axes
    (1 for ``[N, ...]`` models, 2 for SpikingJelly multi-step ``[T, N, ...]`` models),
    whether those leading axes pass through unchanged, and the call's arguments."""

    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    lead: int
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] | None = None
    keeps_lead: bool = True
    shapes: tuple[tuple[int, ...], ...] = ()  # every tensor input's per-sample shape

    @property
    def rank(self) -> int:
        """Rank of the traced input tensor (leading axes included)."""
        return len(self.in_shape) + self.lead

    def dim(self, d: int) -> int:
        """A torch dim of the traced input as an IR dim (batch axis 0, ``>= 1``)."""
        d = d + self.rank if d < 0 else d
        if not 0 <= d < self.rank:
            raise Unsupported(f"dim {d} is out of range")
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


def pool(
    kind: str,
    dims: int,
    kernel: Any,
    stride: Any,
    padding: Any = 0,
    ceil_mode: bool = False,
    *,
    dilation: Any = 1,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    return_indices: bool = False,
) -> ir.Node:
    """Max / average pooling with PyTorch's arguments (``stride=None``: the kernel size)."""
    if return_indices:
        raise Unsupported("return_indices=True")
    stride = kernel if stride in (None, (), []) else stride
    cls = getattr(ir, f"{kind}Pool{dims}d")
    if kind == "Max":
        return cls(kernel, stride, padding, bool(ceil_mode), dilation)
    if np.any(np.asarray(dilation) != 1):
        raise Unsupported("average pooling with dilation")
    return cls(kernel, stride, padding, bool(ceil_mode), bool(count_include_pad), divisor_override)


def _pool(kind: str, dims: int) -> Callable[[nn.Module, Ctx], ir.Node]:
    def build(m: nn.Module, ctx: Ctx) -> ir.Node:
        return pool(
            kind,
            dims,
            m.kernel_size,
            m.stride,
            m.padding,
            m.ceil_mode,
            dilation=getattr(m, "dilation", 1),
            count_include_pad=getattr(m, "count_include_pad", True),
            divisor_override=getattr(m, "divisor_override", None),
            return_indices=getattr(m, "return_indices", False),
        )

    return build


def adaptive_avg(ctx: Ctx) -> ir.Node:
    """Adaptive average pooling to the traced output size: a plain average pool when every
    output size divides the input's, else the exact adaptive node (uneven windows)."""
    spatial, out = ctx.in_shape[1:], ctx.out_shape[1:]
    if len(spatial) not in (1, 2):
        raise Unsupported(f"adaptive pooling over {len(spatial)} spatial axes")
    node = (ir.AdaptiveAvgPool1d if len(spatial) == 1 else ir.AdaptiveAvgPool2d)(out)
    return node.as_plain(spatial) or node


def softmax_dim(dim: int | None, ctx: Ctx) -> int:
    if dim is None:
        raise Unsupported("softmax without an explicit dim")
    return ctx.dim(dim)


def flatten(start: int, end: int, ctx: Ctx) -> ir.Node:
    """``flatten(x, start, end)`` on the traced tensor (the last axis written ``-1``)."""
    s, e = ctx.dim(start), ctx.dim(end)
    return ir.Flatten(s, -1 if e == len(ctx.in_shape) else e)


def _flatten(m: nn.Flatten, ctx: Ctx) -> ir.Node:
    if hasattr(m, "step_mode"):  # SpikingJelly's step-aware Flatten counts dims per step
        return ir.Flatten(m.start_dim, m.end_dim)
    return flatten(m.start_dim, m.end_dim, ctx)


def clamp(low: Any, high: Any) -> ir.Node:
    """``clamp(x, 0, a)`` (and ``hardtanh(x, 0, a)``, ``relu6``) is a ReLU capped at a."""
    if low is None or float(low) != 0.0 or (high is not None and not float(high) > 0):
        raise Unsupported(f"clamp to [{low}, {high}] (only [0, a] with a > 0 converts)")
    return ir.ReLU(None if high is None or float(high) == float("inf") else float(high))


def threshold(level: Any, value: Any) -> ir.Node:
    """``threshold(x, 0, 0)`` (``y = x if x > 0 else 0``) is a ReLU."""
    if float(level) != 0.0 or float(value) != 0.0:
        raise Unsupported(f"threshold({level}, {value}) (only threshold 0 with value 0)")
    return ir.ReLU()


NEURON_CLASSES = {
    "IFNode": "IF",
    "HalfThresholdIFNode": "IF",
    "LIFNode": "LIF",
    "ParametricLIFNode": "PLIF",
}


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
    reset), as in SpikingJelly, except ``HalfThresholdIFNode`` (soft reset, starting at
    ``V_th/2``); PLIF keeps its float32 ``sigmoid(w)`` as the exact decay."""
    kind = neuron_kind(m)
    v_reset = None if m.v_reset is None else _scalar_or_array(m.v_reset)
    if isinstance(v_reset, np.ndarray):
        raise Unsupported("per-neuron v_reset")
    th = _scalar_or_array(m.v_threshold)
    v0 = 0.0 if v_reset is None else v_reset
    if type(m).__name__ == "HalfThresholdIFNode":
        v0 = th / 2.0
    if kind == "IF":
        return ir.IF(th, v_reset, v0)
    if kind == "LIF":
        return ir.LIF(float(m.tau), th, v_reset, bool(m.decay_input), v0)
    if m.w.numel() != 1:
        raise Unsupported("ParametricLIFNode with a non-scalar w")
    q = float(m.w.detach().float().sigmoid().reshape(()))
    return ir.LIF(1.0 / q, th, v_reset, bool(m.decay_input), v0, decay=q)


def _dropout(m: nn.Module, ctx: Ctx) -> ir.Node:
    return ir.Dropout(float(m.p))


ModuleBuilder = Callable[[nn.Module, Ctx], ir.Node]
MODULE_BUILDERS: Builders[type[nn.Module], ModuleBuilder] = Builders("torch module class")
MODULE_BUILDERS.add((nn.Linear,), lambda m, c: ir.Linear(_np(m.weight), _np(m.bias)))
MODULE_BUILDERS.add((nn.Conv1d, nn.Conv2d), _conv)
MODULE_BUILDERS.add((nn.BatchNorm1d, nn.BatchNorm2d), _bn)
MODULE_BUILDERS.add((nn.ReLU,), lambda m, c: ir.ReLU())
MODULE_BUILDERS.add((nn.ReLU6,), lambda m, c: ir.ReLU(6.0))
MODULE_BUILDERS.add((nn.Hardtanh,), lambda m, c: clamp(m.min_val, m.max_val))
MODULE_BUILDERS.add((nn.Threshold,), lambda m, c: threshold(m.threshold, m.value))
MODULE_BUILDERS.add((nn.AvgPool1d,), _pool("Avg", 1))
MODULE_BUILDERS.add((nn.AvgPool2d,), _pool("Avg", 2))
MODULE_BUILDERS.add((nn.MaxPool1d,), _pool("Max", 1))
MODULE_BUILDERS.add((nn.MaxPool2d,), _pool("Max", 2))
MODULE_BUILDERS.add((nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d), lambda m, c: adaptive_avg(c))
MODULE_BUILDERS.add((nn.Flatten,), _flatten)
MODULE_BUILDERS.add(
    (
        nn.Dropout,
        nn.Dropout1d,
        nn.Dropout2d,
        nn.Dropout3d,
        nn.AlphaDropout,
        nn.FeatureAlphaDropout,
    ),
    _dropout,
)
MODULE_BUILDERS.add((nn.Identity,), lambda m, c: ir.Identity())
MODULE_BUILDERS.add((nn.Softmax,), lambda m, c: ir.Softmax(softmax_dim(m.dim, c)))
MODULE_BUILDERS.add((nn.LogSoftmax,), lambda m, c: ir.Softmax(softmax_dim(m.dim, c), log=True))


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


NAMED_BUILDERS: Builders[str, NamedBuilder] = Builders("module class name")
NAMED_BUILDERS.add(
    ("VoltageScaler", "ChannelVoltageScaler"), NamedBuilder(("scale",), ir.Scale, _voltage_scaler)
)
NAMED_BUILDERS.add(
    ("Dropout", "Dropout2d"), NamedBuilder(("p", "step_mode"), ir.Dropout, _sj_dropout)
)


def module_builder(m: nn.Module) -> ModuleBuilder | None:
    """The builder of module ``m``: a SpikingJelly neuron's, its class's (or the nearest base
    class's) in :data:`MODULE_BUILDERS`, else one of :data:`NAMED_BUILDERS` by class name."""
    if neuron_kind(m):
        return build_neuron
    for cls in type(m).__mro__:
        if (found := MODULE_BUILDERS.get(cls)) is not None:
            return found
    named = NAMED_BUILDERS.get(type(m).__name__)
    if named is not None and all(hasattr(m, a) for a in named.attrs):
        return named.build
    return None
