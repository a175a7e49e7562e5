"""Torch kernels of the modern classifiers' ops (:mod:`sjconvert.ir.nodes.nonlinear`,
:mod:`sjconvert.ir.nodes.tokens`): smooth activations, layer norm, products, parameters,
roll, pad and the window / head rearrangements.

Every rearrangement is written with tensors of rank 4 or less (batch axis included), as
Lynxi's compiler requires; sizes come from the prepared per-sample ``in_shapes`` (static),
with ``-1`` for the batch axis, which may be a batch or time and batch folded together.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..ir import nodes as ir
from .kernels import Params, kernel


def _hardsigmoid(x: torch.Tensor) -> torch.Tensor:
    """``min(max(X + 3, 0), 6) / 6`` spelled out: +, clip and ÷ round one way in every
    runtime (``F.hardsigmoid`` exports to ONNX's HardSigmoid, ``X·(1/6) + 1/2``, which
    rounds apart from torch's)."""
    return (x + 3.0).clamp(0.0, 6.0) / 6.0


_SMOOTH = {
    ir.SiLU: F.silu,
    ir.Hardswish: lambda x: x * _hardsigmoid(x),
    ir.Hardsigmoid: _hardsigmoid,
    ir.Sigmoid: torch.sigmoid,
    ir.Tanh: torch.tanh,
}


@kernel(ir.GELU)
def _gelu(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return F.gelu(xs[0], approximate="tanh" if p["tanh"] else "none")


@kernel(*_SMOOTH)
def _smooth(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return _SMOOTH[type(p["node"])](xs[0])


@kernel(ir.LayerNorm)
def _layer_norm(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    w = p["weight"]
    return F.layer_norm(xs[0], tuple(w.shape), w, p["bias"], p["eps"])


@kernel(ir.L2Normalize)
def _l2_normalize(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    # F.normalize's formula, without its ``out`` argument (Lynxi's checks refuse one)
    norm = torch.linalg.vector_norm(xs[0], dim=-1, keepdim=True)
    return xs[0] / norm.clamp_min(p["eps"])


@kernel(ir.Mul)
def _mul(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return xs[0] * xs[1]


@kernel(ir.MatMul)
def _matmul(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return torch.matmul(xs[0], xs[1])


@kernel(ir.Constant)
def _constant(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    value = p["value"]
    # the batch size from a [B, 1, …] zero of the input: traceable, and no expand to a size
    # read from a shape (Lynxi's compiler and torch.fx take it)
    zero = xs[0].flatten(1)[:, :1].reshape(-1, *([1] * len(p["node"].value.shape))) * 0.0
    return zero + value


@kernel(ir.Roll)
def _roll(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    # reduced modulo each axis (static per-sample sizes): torch.roll does so itself, its
    # ONNX export (Slice + Concat) does not, and a shift past the axis exported wrongly
    sizes = p["in_shapes"][0]
    shifts = [s % sizes[d - 1] for s, d in zip(p["shifts"], p["dims"], strict=True)]
    return torch.roll(xs[0], shifts, p["dims"])


@kernel(ir.Pad)
def _pad(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return F.pad(xs[0], p["pads"])


def _channels_last(p: Params, x: torch.Tensor) -> tuple[torch.Tensor, int, int, int]:
    """``x`` as ``[B, H, W, C]`` with its static ``H, W, C``."""
    shape = p["in_shapes"][0]
    if p["channels_first"]:
        c, h, w = shape
        return x.permute(0, 2, 3, 1), h, w, c
    h, w, c = shape
    return x, h, w, c


@kernel(ir.WindowPartition)
def _window_partition(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    """``[B, H, W, C] → [B·H/p, p, W/q, q·C] → (swap) → [B, (H/p)(W/q), p·q, C]``."""
    x, h, w, c = _channels_last(p, xs[0])
    wp, wq = p["window"]
    x = x.reshape(-1, wp, w // wq, wq * c).transpose(1, 2)
    return x.reshape(-1, (h // wp) * (w // wq), wp * wq, c)


@kernel(ir.WindowMerge)
def _window_merge(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    """``[B, (H/p)(W/q), p·q, C] → [B·H/p, W/q, p, q·C] → (swap) → [B, H, W, C]``."""
    (h, w), (wp, wq) = p["size"], p["window"]
    c = p["in_shapes"][0][-1]
    x = xs[0].reshape(-1, w // wq, wp, wq * c).transpose(1, 2).reshape(-1, h, w, c)
    return x.permute(0, 3, 1, 2) if p["channels_first"] else x


@kernel(ir.PatchMerge)
def _patch_merge(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    """``[B, H, W, C]``: rows paired, then the 2×2 cells ordered column offset first."""
    h, w, c = p["in_shapes"][0]
    x = xs[0].reshape(-1, 2, w // 2, 2 * c).transpose(1, 2)  # [B·H/2, W/2, dh, (dw, C)]
    x = x.reshape(-1, 2, 2, c).transpose(1, 2)  # [B·H/2·W/2, dw, dh, C]
    return x.reshape(-1, h // 2, w // 2, 4 * c)


@kernel(ir.SplitHeads)
def _split_heads(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    shape, h = p["in_shapes"][0], p["heads"]
    n, d = shape[-2], shape[-1] // h
    x = xs[0].reshape(-1, n, h, d).transpose(1, 2)  # [B(·G), h, L, d]
    return x if len(shape) == 2 else x.reshape(-1, shape[0] * h, n, d)


@kernel(ir.MergeHeads)
def _merge_heads(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    (gh, n, d), h = p["in_shapes"][0], p["heads"]
    x = xs[0].reshape(-1, h, n, d).transpose(1, 2)  # [B(·G), L, h, d]
    if p["rank"] == 2:
        return x.reshape(-1, n, h * d)
    return x.reshape(-1, gh // h, n, h * d)
