"""Normalisation scales λ as arrays: a scalar (layer-wise) or one factor per channel.

A value of per-sample shape ``(C, *rest)`` carries ``v_ann / λ`` where ``λ`` is a float64
array that broadcasts to that shape: ``()`` for layer-wise scales, ``(C, 1, …, 1)`` for
channel-wise ones; after a flatten, ``(F,)`` (one factor per feature, axis 1 of the value).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..errors import PassError
from ..ir import nodes as ir
from ..ops import entry, prepare

Lam = np.ndarray


def as_lam(value: Any) -> Lam:
    return np.asarray(value, dtype=np.float64)


def channel_lam(values: np.ndarray, rank: int) -> Lam:
    """Per-channel λ (one value per channel) shaped ``(C, 1, …)`` for a rank-``rank`` value."""
    return as_lam(values).reshape(-1, *([1] * (rank - 1)))


def same(a: Lam, b: Lam) -> bool:
    return bool(np.allclose(*np.broadcast_arrays(a, b), rtol=1e-7, atol=0))


def vector(lam: Lam, shape: tuple[int, ...], where: str) -> np.ndarray | float:
    """λ as a scalar or a ``(C,)`` vector over axis 0 of ``shape`` (a synapse's channels)."""
    if lam.ndim == 0:
        return float(lam)
    full = np.broadcast_to(lam, shape).reshape(shape[0], -1)
    if not np.all(full == full[:, :1]):
        raise PassError(
            f"{where}: the scale varies within a channel (after a reshape); "
            "use layer-wise normalisation"
        )
    return full[:, 0].copy()


def _move(node: ir.Node, full: np.ndarray, shape_in: tuple[int, ...]) -> np.ndarray:
    """A movement op applied to one per-sample array (float64, through its own kernel)."""
    found = entry(node)
    if found is None:
        raise PassError(f"no kernel to move scales through {node.op}")
    p = prepare(node, [shape_in], torch.float64)
    out = found.fn(p, [torch.tensor(full)[None]])  # a copy: `full` may be read-only
    return out[0].numpy().copy()


def through(node: ir.Node, lam: Lam, shape_in: tuple[int, ...], shape_out: tuple[int, ...]) -> Lam:
    """λ after a scale-keeping op: data movement moves it with the values (flatten,
    reshape, transpose, slice); pooling and identities keep it per channel."""
    if lam.ndim == 0:
        return lam
    if node.movement:
        return _compact(_move(node, np.broadcast_to(lam, shape_in), shape_in))
    return channel_lam(vector(lam, shape_in, node.op), len(shape_out))


def back(
    node: ir.Node, lam: Lam, shape_in: tuple[int, ...], shape_out: tuple[int, ...]
) -> Lam | None:
    """λ before a scale-keeping op that gives ``lam`` after it, or None where the op loses
    values (a slice) or mixes inputs (a concat)."""
    if lam.ndim == 0:
        return lam
    if not node.movement:
        return channel_lam(vector(lam, shape_out, node.op), len(shape_in))
    full = np.broadcast_to(lam, shape_out)
    if node.reshapes:
        return full.reshape(shape_in).copy()
    if isinstance(node, ir.Transpose):
        return np.transpose(full, np.argsort(node.dims)).copy()
    return None


def split(
    lam: Lam, shapes: list[tuple[int, ...]], dim: int, out_shape: tuple[int, ...]
) -> list[Lam]:
    """λ of each input of a concat over axis ``dim`` (per-sample inputs ``shapes``)."""
    if lam.ndim == 0:
        return [lam] * len(shapes)
    sizes = [s[dim - 1] for s in shapes]
    parts = np.split(np.broadcast_to(lam, out_shape), np.cumsum(sizes)[:-1], axis=dim - 1)
    return [_compact(p) for p in parts]


def _compact(lam: np.ndarray) -> Lam:
    """A full per-sample λ as ``(C, 1, …)`` when it is constant within each channel."""
    flat = lam.reshape(lam.shape[0], -1)
    if np.all(flat == flat[:, :1]):
        return channel_lam(flat[:, 0], lam.ndim)
    return lam.copy()


def rescale_weights(
    w: np.ndarray,
    b: np.ndarray | None,
    lam_in: np.ndarray | float,
    lam_out: np.ndarray | float,
    groups: int = 1,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``Ŵ[o, i] = W[o, i] · λ_in[i] / λ_out[o]`` and ``b̂[o] = b[o] / λ_out[o]``.

    For grouped convolutions, weight column ``j`` of output ``o`` reads input channel
    ``g·(C_in/groups) + j`` with ``g = o // (C_out/groups)``.
    """
    out_ch, in_per_group = w.shape[0], w.shape[1]
    lin = np.broadcast_to(np.asarray(lam_in, np.float64), (in_per_group * groups,))
    lout = np.broadcast_to(np.asarray(lam_out, np.float64), (out_ch,))
    w_new = np.empty(w.shape, np.float32)
    for at in range(0, out_ch, 256):  # in blocks of rows: VGG's 4096 × 25088 in float64 is 784 MiB
        o = np.arange(at, min(at + 256, out_ch))
        cols = (o // (out_ch // groups))[:, None] * in_per_group + np.arange(in_per_group)
        ratio = (lin[cols] / lout[o, None]).reshape(len(o), in_per_group, *([1] * (w.ndim - 2)))
        w_new[o] = w[o].astype(np.float64) * ratio
    b_new = None if b is None else (b.astype(np.float64) / lout).astype(np.float32)
    w_new.flags.writeable = False  # read-only and owned: the node keeps it without a copy
    return w_new, b_new


def factor(lam: Lam, shape: tuple[int, ...], where: str) -> np.ndarray:
    """A :class:`Scale` factor (scalar or per channel) equal to ``lam``."""
    v = vector(lam, shape, where)
    return np.asarray(v, np.float32) if isinstance(v, np.ndarray) else np.float32(v)


def describe(lam: Lam) -> float | list[float]:
    """JSON form of λ for graph meta: a float, or the per-channel list."""
    if lam.ndim == 0:
        return float(lam)
    flat = lam.reshape(-1)
    return [float(v) if math.isfinite(v) else 1.0 for v in flat]
