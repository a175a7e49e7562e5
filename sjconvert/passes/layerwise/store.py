"""Compact storage for the values the layer-wise calibration carries forward, one chunk of
samples at a time.

A spike train ``[T, n, ...]`` of integers (spike counts per step, negative for signed
neurons) is kept as bit planes (``np.packbits`` over the flattened array): one plane per bit
of the largest count and, only when the layer emitted any negative spikes, one for the
sign — 32 times smaller than float32 for 0/1 spikes. A spike of a calibrated layer stands
for ``θ_c`` (its threshold, per channel), which is applied when the value is read back.
Anything else (the direct input, ANN activations) is kept as a float32 tensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Stored:
    """One chunk's value: bit planes of a spike train, or a plain tensor."""

    planes: tuple[np.ndarray, ...] = ()
    shape: tuple[int, ...] = ()
    scale: torch.Tensor | None = None
    tensor: torch.Tensor | None = None
    sign: np.ndarray | None = None

    @classmethod
    def spikes(cls, s: torch.Tensor, scale: torch.Tensor | None = None) -> Stored:
        """Pack a spike train ``[T, n, ...]`` (integer counts, negative ones allowed);
        ``scale`` multiplies it back on reading (broadcast over ``[T, n, ...]``)."""
        arr = s.numpy().reshape(-1)
        size = np.abs(arr).astype(np.uint8)
        bits = max(1, int(size.max(initial=0)).bit_length())
        planes = tuple(np.packbits(size & (1 << k) if k else size & 1) for k in range(bits))
        negative = arr < 0
        sign = np.packbits(negative) if negative.any() else None
        return cls(planes, tuple(s.shape), scale, sign=sign)

    @classmethod
    def value(cls, x: torch.Tensor) -> Stored:
        return cls(tensor=x)

    def read(self) -> torch.Tensor:
        """The stored value as float32 (spikes times their scale)."""
        if self.tensor is not None:
            return self.tensor
        n = math.prod(self.shape)
        count = _unpack(self.planes[0], n)
        for k, p in enumerate(self.planes[1:], 1):
            count.bitwise_or_(_unpack(p, n).bitwise_left_shift_(k))
        if self.sign is not None:  # count · (1 − 2·sign), in int8
            count.mul_(_unpack(self.sign, n).mul_(-2).add_(1))
        t = count.to(torch.float32).reshape(self.shape)
        return t if self.scale is None else t.mul_(self.scale)

    @property
    def nbytes(self) -> int:
        if self.tensor is not None:
            return self.tensor.numel() * self.tensor.element_size()
        return sum(p.nbytes for p in self.planes) + (0 if self.sign is None else self.sign.nbytes)


def _unpack(plane: np.ndarray, n: int) -> torch.Tensor:
    """One bit plane as an int8 tensor of 0/1 (``n`` values)."""
    return torch.from_numpy(np.unpackbits(plane, count=n).view(np.int8))
