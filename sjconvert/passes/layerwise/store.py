"""Compact storage for the values the layer-wise calibration carries forward, one chunk of
samples at a time.

A spike train ``[T, n, ...]`` of values in {−1, 0, 1} is kept as bit planes packed along
time (``np.packbits``): ``T/8`` bytes per neuron for the positive spikes and, only when the
layer emitted any, as many for the negative ones — 16 times smaller than float32 at
``T = 8``. A spike of a calibrated layer stands for ``θ_c`` (its threshold, per channel),
which is applied when the value is read back. Anything else (the direct input, ANN
activations) is kept as a float32 tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class Stored:
    """One chunk's value: bit planes of a spike train, or a plain tensor."""

    planes: tuple[np.ndarray, ...] = ()
    steps: int = 0
    scale: torch.Tensor | None = None
    tensor: torch.Tensor | None = None

    @classmethod
    def spikes(cls, s: torch.Tensor, scale: torch.Tensor | None = None) -> Stored:
        """Pack a spike train ``[T, n, ...]`` (values −1, 0, 1); ``scale`` multiplies it back
        on reading (broadcast over ``[T, n, ...]``)."""
        arr = s.numpy()
        planes = [np.packbits(arr > 0, axis=0)]
        negative = arr < 0
        if negative.any():
            planes.append(np.packbits(negative, axis=0))
        return cls(tuple(planes), int(s.shape[0]), scale)

    @classmethod
    def value(cls, x: torch.Tensor) -> Stored:
        return cls(tensor=x)

    def read(self) -> torch.Tensor:
        """The stored value as float32 (spikes times their scale)."""
        if self.tensor is not None:
            return self.tensor
        out = np.unpackbits(self.planes[0], axis=0, count=self.steps).astype(np.float32)
        if len(self.planes) > 1:
            out -= np.unpackbits(self.planes[1], axis=0, count=self.steps)
        t = torch.from_numpy(out)
        return t if self.scale is None else t.mul_(self.scale)

    @property
    def nbytes(self) -> int:
        if self.tensor is not None:
            return self.tensor.numel() * self.tensor.element_size()
        return sum(p.nbytes for p in self.planes)
