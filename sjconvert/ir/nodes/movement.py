"""Data movement: nodes that only rearrange values (the batch axis 0 always stays first).

Dimension arguments count the batch axis (``dim = 1`` is the channel axis), as PyTorch
does for a batched tensor; per-sample shapes exclude it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from .base import Node


def axis(dim: int, rank: int) -> int:
    """``dim`` (negative counts from the end) as an axis in ``1 .. rank-1``."""
    d = dim + rank if dim < 0 else dim
    if not 1 <= d < rank:
        raise ValueError(f"dim {dim} is not a non-batch axis of a rank-{rank} value")
    return d


@dataclass(frozen=True, eq=False)
class _Movement(Node):
    movement: ClassVar[bool] = True
    linear: ClassVar[bool] = True
    keeps_scale: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class Flatten(_Movement):
    """``Y = X`` with axes ``start_dim..end_dim`` merged (batch axis 0 kept)."""

    selects: ClassVar[bool] = True

    reshapes: ClassVar[bool] = True
    start_dim: int = 1
    end_dim: int = -1

    def validate(self) -> None:
        if self.start_dim == 0:
            raise ValueError("Flatten must keep the batch axis (start_dim >= 1)")

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        rank = len(shapes[0]) + 1
        if axis(self.start_dim, rank) > axis(self.end_dim, rank):
            raise ValueError(f"Flatten dims {self.start_dim}..{self.end_dim} are reversed")


@dataclass(frozen=True, eq=False)
class Reshape(_Movement):
    """``Y = reshape(X, [N, *shape])``: per-sample reshape, batch axis kept."""

    selects: ClassVar[bool] = True

    reshapes: ClassVar[bool] = True
    shape: tuple[int, ...] = ()

    def validate(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        if not self.shape or min(self.shape) < 1:
            raise ValueError(f"Reshape needs a concrete positive shape, got {self.shape}")

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        if math.prod(shapes[0]) != math.prod(self.shape):
            raise ValueError(f"cannot reshape {list(shapes[0])} to {list(self.shape)}")


@dataclass(frozen=True, eq=False)
class Transpose(_Movement):
    """``Y = X.permute(0, *dims)``: a permutation ``dims`` of the non-batch axes ``1..r``
    (``transpose``, ``permute``; channel shuffle is ``Reshape → Transpose → Reshape``)."""

    selects: ClassVar[bool] = True

    dims: tuple[int, ...] = (1,)

    def validate(self) -> None:
        object.__setattr__(self, "dims", tuple(int(d) for d in self.dims))
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Transpose dims {self.dims} are not a permutation of 1..r")

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        if len(shapes[0]) != len(self.dims):
            raise ValueError(f"Transpose {self.dims} does not fit shape {list(shapes[0])}")


@dataclass(frozen=True, eq=False)
class Slice(_Movement):
    """``Y = X[..., start:stop, ...]`` along axis ``dim`` (``chunk``, ``split``, tuple
    ``getitem`` and slicing all become slices)."""

    selects: ClassVar[bool] = True

    dim: int = 1
    start: int = 0
    stop: int = 1

    def validate(self) -> None:
        if self.dim < 1 or not 0 <= self.start < self.stop:
            raise ValueError(f"Slice needs dim >= 1 and 0 <= start < stop, got {self}")

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        shape = shapes[0]
        if self.dim > len(shape) or self.stop > shape[self.dim - 1]:
            raise ValueError(f"Slice {self.start}:{self.stop} on dim {self.dim} of {list(shape)}")


@dataclass(frozen=True, eq=False)
class Concat(_Movement):
    """``Y = cat(X_1, …, X_k, dim)`` with ``dim >= 1`` (batch axis is 0)."""

    arity: ClassVar[int | None] = None
    dim: int = 1

    def validate(self) -> None:
        if self.dim < 1:
            raise ValueError(f"Concat dim must be a non-batch axis >= 1, got {self.dim}")

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        d = self.dim - 1
        rest = {s[:d] + s[d + 1 :] for s in shapes}
        if len(rest) != 1 or any(len(s) <= d for s in shapes):
            raise ValueError(f"Concat on dim {self.dim} cannot join shapes {shapes}")
