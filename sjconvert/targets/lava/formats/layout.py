"""Array layouts at the Lava boundary, in one place.

**Time.** SpikingJelly's multi-step ``TNX`` (``[T, N, ...]``) against Lava-DL's ``NXT``
(``[N, ..., T]``)::

    nxt = tnx_to_nxt(x)     # x[t, n, ...] → nxt[n, ..., t]
    tnx = nxt_to_tnx(nxt)   # the inverse

**Space.** sjconvert keeps PyTorch's per-sample order; Lava processes take ``(x, y, f)``:

=====================  =========================  =========================================
PyTorch                Lava                       function
=====================  =========================  =========================================
``[C, H, W]``          ``(W, H, C)``              :func:`lava_shape`, :func:`to_lava`
``[C, L]`` (Conv1d)    ``(L, 1, C)``              the sequence on x, a unit y axis
``[n]``                ``(n,)``
Conv2d kernel          ``(C_out, kW, kH, C_in/g)``  :func:`lava_kernel` (flipped: Lava's
``[C_out, C_in/g, kH, kW]``                       ``Conv`` convolves, PyTorch correlates)
stride ``(H, W)``      ``(W, H)``; 1-D ``(s, 1)``   :func:`lava_pair` (padding: ``(p, 0)``)
flattening ``C, H, W`` C order over ``(x, y, f)``  :func:`flat_order` permutes Dense columns
=====================  =========================  =========================================

IR nodes never hold a time axis and never hold Lava's order: only data and the emitted
process arguments cross between the layouts.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

Data = TypeVar("Data", np.ndarray, torch.Tensor)


def _move(x: Data, src: int, dst: int) -> Data:
    return torch.movedim(x, src, dst) if isinstance(x, torch.Tensor) else np.moveaxis(x, src, dst)


def tnx_to_nxt(x: Data) -> Data:
    """``[T, N, ...]`` → ``[N, ..., T]``."""
    return _move(x, 0, -1)


def nxt_to_tnx(x: Data) -> Data:
    """``[N, ..., T]`` → ``[T, N, ...]``."""
    return _move(x, -1, 0)


def lava_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Lava's ``(x, y, f)`` shape of a PyTorch per-sample shape (see the module table)."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 3:
        return shape[::-1]
    if len(shape) == 2:
        return (shape[1], 1, shape[0])
    if len(shape) == 1:
        return shape
    raise ValueError(f"Lava populations are 1-D, [C, L] or [C, H, W], not {list(shape)}")


def to_lava(x: np.ndarray, lead: int = 1) -> np.ndarray:
    """Data ``[*lead axes, *PyTorch shape]`` → ``[*lead axes, *Lava shape]``."""
    x = np.asarray(x)
    axes = list(range(lead))
    nd = x.ndim - lead
    if nd == 3:
        return x.transpose(*axes, lead + 2, lead + 1, lead)
    if nd == 2:
        return np.expand_dims(x.transpose(*axes, lead + 1, lead), lead + 1)
    return x


def from_lava(x: np.ndarray, shape: tuple[int, ...], lead: int = 1) -> np.ndarray:
    """Data ``[*lead axes, *Lava shape]`` → ``[*lead axes, *shape]`` (``shape``: PyTorch)."""
    x = np.asarray(x)
    axes = list(range(lead))
    if len(shape) == 3:
        return x.transpose(*axes, lead + 2, lead + 1, lead)
    if len(shape) == 2:
        return x[(slice(None),) * lead + (slice(None), 0)].transpose(*axes, lead + 1, lead)
    return x


def flat_order(shape: tuple[int, ...]) -> np.ndarray:
    """For each position of a Lava population flattened in C order, the PyTorch-flat index
    of the same neuron: ``W_lava = W[:, flat_order(shape)]`` for a Dense reading it."""
    idx = np.arange(int(np.prod(shape))).reshape(shape)
    return to_lava(idx, lead=0).ravel()


def lava_kernel(weight: np.ndarray) -> np.ndarray:
    """A PyTorch Conv1d/Conv2d kernel as Lava ``Conv`` takes it (axes reversed, flipped)."""
    w = np.asarray(weight)
    if w.ndim == 3:
        w = w[:, :, None, :]
    return np.ascontiguousarray(w.transpose(0, 3, 2, 1)[:, ::-1, ::-1, :])


LAVA_GROUPS_MAX = 127  # Lava 0.10's Conv models keep ``groups`` in an int8 Var


def lava_groups(weight: np.ndarray, groups: int) -> tuple[np.ndarray, int]:
    """A grouped PyTorch kernel ``[C_out, C_in/g, *k]`` with at most
    :data:`LAVA_GROUPS_MAX` groups: Lava 0.10 stores ``groups`` as int8 (128 wraps to
    −128), so ``g`` groups become ``g / j`` groups of ``j`` merged ones (the smallest such
    ``j``), each block-diagonal inside: the same convolution."""
    if groups <= LAVA_GROUPS_MAX:
        return np.asarray(weight), groups
    merge = next(
        j for j in range(2, groups + 1) if groups % j == 0 and groups // j <= LAVA_GROUPS_MAX
    )
    w = np.asarray(weight)
    co, cig = w.shape[:2]
    per = co // groups
    out = np.zeros((co, cig * merge, *w.shape[2:]), w.dtype)
    for g in range(groups):
        j = g % merge
        out[g * per : (g + 1) * per, j * cig : (j + 1) * cig] = w[g * per : (g + 1) * per]
    return out, groups // merge


def lava_pair(value: tuple[int, ...], fill: int) -> tuple[int, int]:
    """A PyTorch ``(H, W)`` or ``(L,)`` stride / padding / dilation as Lava's ``(x, y)``;
    ``fill`` is the value of the unit y axis of a 1-D convolution (1, or 0 for padding)."""
    v = tuple(int(a) for a in value)
    return (v[0], fill) if len(v) == 1 else (v[1], v[0])
