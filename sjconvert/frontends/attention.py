"""Capture of attention: ``nn.MultiheadAttention`` (ViT), torchvision's Swin
``shifted_window_attention`` and patch merging, and MaxViT's relative-position attention and
window partitions, each as a :class:`~.blocks.Block` of IR nodes.

Every block keeps its tensors at rank 4 or less (batch axis included): heads are merged into
the window axis (``[G, P, h·d] → [G·h, P, d]``), so a per-head bias, a per-window shift mask
or a per-head logit scale is one constant of the attention's shape.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ..ir import nodes as ir
from .blocks import INPUT, Block, Ref
from .builders import Ctx, Unsupported


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float32).numpy().copy()


def attention(
    b: Block,
    x: Ref,
    qkv: tuple[np.ndarray, np.ndarray | None],
    proj: tuple[np.ndarray, np.ndarray | None],
    heads: int,
    shape: tuple[int, ...],
    scale_q: float | None = None,
    scale_k: float | None = None,
    bias: np.ndarray | None = None,
    cosine: np.ndarray | None = None,
) -> str:
    """Multi-head self-attention on tokens ``x`` of per-sample ``shape`` (``[L, E]`` or
    ``[G, L, E]``, G windows): ``softmax(Q Kᵀ + bias) V`` per head and window, then the
    output projection. ``scale_q`` / ``scale_k`` multiply queries / keys; ``cosine`` (one
    logit scale per head and window) makes it cosine attention; ``bias`` is
    ``[G·h, L, L]`` (or ``[h, L, L]``)."""
    *lead, n, e = shape
    g, d = (lead[0] if lead else 1), e // heads
    gh = g * heads
    b.add("qkv", ir.Linear(*qkv), (x,), (*lead, n, 3 * e))
    parts = {}
    for i, name in enumerate("qkv"):
        part = b.add(name, ir.Slice(len(shape), i * e, (i + 1) * e), ("qkv",), (*lead, n, e))
        scale = {"q": scale_q, "k": scale_k}.get(name)
        if scale is not None:
            part = b.add(f"{name}_scaled", ir.Scale(np.float32(scale)), (part,), (*lead, n, e))
        split = b.add(f"{name}_heads", ir.SplitHeads(heads), (part,), (gh, n, d))
        if cosine is not None and name != "v":
            split = b.add(f"{name}_unit", ir.L2Normalize(), (split,), (gh, n, d))
        parts[name] = split
    kt = b.add("k_t", ir.Transpose((1, 3, 2)), (parts["k"],), (gh, d, n))
    logits = b.add("logits", ir.MatMul(), (parts["q"], kt), (gh, n, n))
    if cosine is not None:
        logits = b.add("logits_scaled", ir.Scale(cosine.astype(np.float32)), (logits,), (gh, n, n))
    if bias is not None:
        const = b.add("bias", ir.Constant(bias.astype(np.float32)), (INPUT,), (gh, n, n))
        logits = b.add("biased", ir.Add(), (logits, const), (gh, n, n))
    weights = b.add("weights", ir.Softmax(3), (logits,), (gh, n, n))
    out = b.add("mixed", ir.MatMul(), (weights, parts["v"]), (gh, n, d))
    merged = b.add("merged", ir.MergeHeads(heads, len(shape)), (out,), shape)
    return b.add("proj", ir.Linear(*proj), (merged,), shape)


def _linear(m: nn.Linear) -> tuple[np.ndarray, np.ndarray | None]:
    return _np(m.weight), None if m.bias is None else _np(m.bias)


def multihead_attention(m: nn.MultiheadAttention, ctx: Ctx) -> Block:
    """Self-attention (query, key and value the same tensor, ``batch_first``) as a block."""
    q, k, v = (ctx.arg(i, n) for i, n in enumerate(("query", "key", "value")))
    if not (q is k is v):
        raise Unsupported("attention with distinct query, key and value (only self-attention)")
    if not m.batch_first:
        raise Unsupported("batch_first=False (the batch axis must come first)")
    masks = [ctx.arg(i, n) for i, n in ((3, "key_padding_mask"), (5, "attn_mask"))]
    if any(mask is not None for mask in masks) or ctx.arg(7, "is_causal", False):
        raise Unsupported("attention masks")
    if m.bias_k is not None or m.add_zero_attn or m.in_proj_weight is None:
        raise Unsupported("bias_k/bias_v, add_zero_attn or separate q/k/v projections")
    if len(ctx.in_shape) != 2:
        raise Unsupported(f"attention over tokens [L, E], got {list(ctx.in_shape)}")
    bias = None if m.in_proj_bias is None else _np(m.in_proj_bias)
    b = Block()
    heads, e = m.num_heads, m.embed_dim
    qkv = (_np(m.in_proj_weight), bias)
    attention(b, 0, qkv, _linear(m.out_proj), heads, ctx.in_shape, (e // heads) ** -0.5)
    return b


def _shift_mask(size: tuple[int, int], window: list[int], shift: list[int]) -> np.ndarray:
    """Swin's attention mask of shifted windows, ``[nW, N, N]`` (0 or −100)."""
    mask = torch.zeros(size)
    slices = [((0, -w), (-w, -s), (-s, None)) for w, s in zip(window, shift, strict=True)]
    count = 0
    for h in slices[0]:
        for w in slices[1]:
            mask[h[0] : h[1], w[0] : w[1]] = count
            count += 1
    p, q = window
    mask = mask.view(size[0] // p, p, size[1] // q, q).permute(0, 2, 1, 3).reshape(-1, p * q)
    diff = mask.unsqueeze(1) - mask.unsqueeze(2)
    return _np(diff.masked_fill(diff != 0, -100.0))


_SWA_ARGS = (
    *("input", "qkv_weight", "proj_weight", "relative_position_bias", "window_size"),
    *("num_heads", "shift_size", "attention_dropout", "dropout", "qkv_bias"),
    *("proj_bias", "logit_scale"),
)


def shifted_window_attention(ctx: Ctx) -> Block:
    """torchvision's ``shifted_window_attention`` (Swin V1 and V2) on ``[H, W, C]``: pad,
    roll, partition, attention with the relative position bias (and shift mask), merge,
    roll back, crop."""
    a = {k: ctx.arg(i, k) for i, k in enumerate(_SWA_ARGS)}
    h, w, c = ctx.in_shape
    window, heads = [int(s) for s in a["window_size"]], int(a["num_heads"])
    ph, pw = h + (-h) % window[0], w + (-w) % window[1]
    shift = [0 if window[i] >= (ph, pw)[i] else int(s) for i, s in enumerate(a["shift_size"])]
    b, x = Block(), 0
    if (ph, pw) != (h, w):
        x = b.add("pad", ir.Pad((0, 0, 0, pw - w, 0, ph - h)), (x,), (ph, pw, c))
    if any(shift):
        x = b.add("roll", ir.Roll((-shift[0], -shift[1]), (1, 2)), (x,), (ph, pw, c))
    nw, n = (ph // window[0]) * (pw // window[1]), window[0] * window[1]
    x = b.add("windows", ir.WindowPartition(tuple(window)), (x,), (nw, n, c))
    rpb = _np(a["relative_position_bias"]).reshape(heads, n, n)
    bias = np.tile(rpb, (nw, 1, 1))
    if any(shift):
        bias = bias + np.repeat(_shift_mask((ph, pw), window, shift), heads, axis=0)
    qkv_bias = None if a["qkv_bias"] is None else _np(a["qkv_bias"])
    cosine = a["logit_scale"]
    if cosine is not None and qkv_bias is not None:
        qkv_bias[c : 2 * c] = 0.0  # Swin V2 zeroes the key bias
    proj = (_np(a["proj_weight"]), None if a["proj_bias"] is None else _np(a["proj_bias"]))
    qkv = (_np(a["qkv_weight"]), qkv_bias)
    if cosine is None:
        x = attention(b, x, qkv, proj, heads, (nw, n, c), (c // heads) ** -0.5, bias=bias)
    else:
        scale = torch.clamp(cosine.detach(), max=math.log(100.0)).exp().reshape(-1)
        per = np.tile(_np(scale), nw)
        x = attention(b, x, qkv, proj, heads, (nw, n, c), bias=bias, cosine=per)
    x = b.add("image", ir.WindowMerge(tuple(window), (ph, pw)), (x,), (ph, pw, c))
    if any(shift):
        x = b.add("unroll", ir.Roll((shift[0], shift[1]), (1, 2)), (x,), (ph, pw, c))
    if ph != h:
        x = b.add("crop_h", ir.Slice(1, 0, h), (x,), (h, pw, c))
    if pw != w:
        b.add("crop_w", ir.Slice(2, 0, w), (x,), (h, w, c))
    return b


def patch_merging_pad(ctx: Ctx) -> Block:
    """torchvision's ``_patch_merging_pad``: pad H and W to even, then the 2×2 cells of
    each patch side by side (``[H, W, C] → [H/2, W/2, 4C]``)."""
    h, w, c = ctx.in_shape
    b, x = Block(), 0
    if h % 2 or w % 2:
        x = b.add("pad", ir.Pad((0, 0, 0, w % 2, 0, h % 2)), (x,), (h + h % 2, w + w % 2, c))
    b.add("merge", ir.PatchMerge(), (x,), ((h + 1) // 2, (w + 1) // 2, 4 * c))
    return b


def relative_attention(m: nn.Module, ctx: Ctx) -> Block:
    """MaxViT's ``RelativePositionalMultiHeadAttention`` on ``[G, P, D]``."""
    g, n, _ = ctx.in_shape
    heads = int(m.n_heads)
    bias = _np(m.get_relative_positional_bias()).reshape(heads, n, n)
    b = Block()
    qkv, proj = _linear(m.to_qkv), _linear(m.merge)
    scale = float(m.scale_factor)
    attention(b, 0, qkv, proj, heads, ctx.in_shape, scale_k=scale, bias=np.tile(bias, (g, 1, 1)))
    return b


def window_partition(m: nn.Module, ctx: Ctx) -> ir.Node:
    """MaxViT's ``WindowPartition(x, p)``: ``[C, H, W] → [(H/p)(W/p), p², C]``."""
    p = int(ctx.arg(1, "p"))
    return ir.WindowPartition((p, p), channels_first=True)


def window_departition(m: nn.Module, ctx: Ctx) -> ir.Node:
    """MaxViT's ``WindowDepartition(x, p, hp, wp)``: back to ``[C, H, W]``."""
    p, hp, wp = (
        int(ctx.arg(i, k)) for i, k in ((1, "p"), (2, "h_partitions"), (3, "w_partitions"))
    )
    return ir.WindowMerge((p, p), (hp * p, wp * p), channels_first=True)


NAMED_MODULES: dict[str, tuple[tuple[str, ...], type[ir.Node], Any]] = {
    "RelativePositionalMultiHeadAttention": (
        ("to_qkv", "merge", "n_heads", "scale_factor"),
        ir.MatMul,
        relative_attention,
    ),
    "WindowPartition": ((), ir.WindowPartition, window_partition),
    "WindowDepartition": ((), ir.WindowMerge, window_departition),
}
NAMED_FUNCTIONS = {
    "torchvision.models.swin_transformer.shifted_window_attention": shifted_window_attention,
    "torchvision.models.swin_transformer._patch_merging_pad": patch_merging_pad,
}
