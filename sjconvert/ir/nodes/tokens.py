"""Token and window data movement (ViT, Swin, MaxViT) and parameters entering the graph.

The movement nodes only rearrange values (or add zeros), so spikes pass through them as they
are: they are spike-driven routing. Each kernel keeps every tensor at rank 4 or less (with
the batch axis), as Lynxi's compiler requires, however many axes the torch model used.
Shapes are per sample (batch axis excluded); ``dims`` count the batch axis as 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Array, Node, array_field
from .movement import _Movement, axis


@dataclass(frozen=True, eq=False)
class Constant(Node):
    """A parameter entering the graph (class token, position embedding, attention bias):
    ``Y[n] = P`` for every sample ``n`` of its input ``X``, which gives only the batch size.
    ``P`` has the per-sample shape of ``Y``."""

    value: Array = array_field()

    def validate(self) -> None:
        if self.value.ndim < 1 or 0 in self.value.shape:
            raise ValueError(f"Constant needs a non-empty array, got shape {self.value.shape}")


@dataclass(frozen=True, eq=False)
class Roll(_Movement):
    """``Y = roll(X, shifts, dims)``: cyclic shifts along non-batch axes (Swin's shifted
    windows)."""

    shifts: tuple[int, ...] = (0,)
    dims: tuple[int, ...] = (1,)

    def validate(self) -> None:
        object.__setattr__(self, "shifts", tuple(int(s) for s in self.shifts))
        object.__setattr__(self, "dims", tuple(int(d) for d in self.dims))
        if len(self.shifts) != len(self.dims) or min(self.dims, default=1) < 1:
            raise ValueError(f"Roll needs one shift per non-batch dim, got {self}")

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        for d in self.dims:
            axis(d, len(shapes[0]) + 1)


@dataclass(frozen=True, eq=False)
class Pad(_Movement):
    """Zero padding: ``pads`` is PyTorch's ``F.pad`` list (last axis first, ``(before,
    after)`` pairs, non-negative)."""

    pads: tuple[int, ...] = (0, 0)

    def validate(self) -> None:
        object.__setattr__(self, "pads", tuple(int(p) for p in self.pads))
        if not self.pads or len(self.pads) % 2 or min(self.pads) < 0:
            raise ValueError(f"Pad needs (before, after) pairs >= 0, got {self.pads}")

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        if len(self.pads) // 2 > len(shapes[0]):
            raise ValueError(f"Pad {self.pads} has more axes than {list(shapes[0])}")


@dataclass(frozen=True, eq=False)
class WindowPartition(_Movement):
    """``[H, W, C] → [(H/p)·(W/q), p·q, C]``: non-overlapping ``p×q`` windows in row-major
    window order, the cells of a window row-major (Swin, MaxViT). ``channels_first`` takes
    ``[C, H, W]`` instead (MaxViT; its grid attention is a partition into ``H/g``-sized
    windows with the two first axes swapped)."""

    window: tuple[int, ...] = (1, 1)
    channels_first: bool = False

    def validate(self) -> None:
        object.__setattr__(self, "window", tuple(int(w) for w in self.window))
        if len(self.window) != 2 or min(self.window) < 1:
            raise ValueError(f"WindowPartition needs a 2-D window, got {self.window}")

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        shape = shapes[0]
        hw = shape[1:] if self.channels_first else shape[:2]
        if len(shape) != 3 or any(n % w for n, w in zip(hw, self.window, strict=True)):
            raise ValueError(f"windows {self.window} do not tile {list(shape)}")


@dataclass(frozen=True, eq=False)
class WindowMerge(_Movement):
    """The inverse of :class:`WindowPartition`: ``[(H/p)·(W/q), p·q, C] → [H, W, C]`` (or
    ``[C, H, W]`` with ``channels_first``) for the image size ``size = (H, W)``."""

    window: tuple[int, ...] = (1, 1)
    size: tuple[int, ...] = (1, 1)
    channels_first: bool = False

    def validate(self) -> None:
        for name in ("window", "size"):
            object.__setattr__(self, name, tuple(int(w) for w in getattr(self, name)))
        ok = len(self.window) == len(self.size) == 2 and min(self.window) >= 1
        if not ok or any(n % w for n, w in zip(self.size, self.window, strict=True)):
            raise ValueError(f"WindowMerge: windows {self.window} do not tile {self.size}")

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        (h, w), (p, q) = self.size, self.window
        if len(shapes[0]) != 3 or shapes[0][:2] != ((h // p) * (w // q), p * q):
            raise ValueError(f"WindowMerge to {self.size} cannot take {list(shapes[0])}")

    @classmethod
    def conformance_example(cls, shape: tuple[int, ...]) -> WindowMerge:
        """For the conformance suite, whose generic draws rarely tile: ``[G, P, C]`` as
        ``G`` windows of one row of ``P`` into ``[G, P, C]`` (any other rank is refused)."""
        g, p = (*shape, 1, 1)[:2]
        return cls(window=(1, p), size=(g, p))


@dataclass(frozen=True, eq=False)
class PatchMerge(_Movement):
    """Swin's patch merging rearrangement: ``[H, W, C] → [H/2, W/2, 4C]`` with the four
    cells of each 2×2 patch concatenated in the order ``(0,0), (1,0), (0,1), (1,1)``
    (row offset first)."""

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        shape = shapes[0]
        if len(shape) != 3 or shape[0] % 2 or shape[1] % 2:
            raise ValueError(f"PatchMerge needs [H, W, C] with even H and W, got {list(shape)}")


@dataclass(frozen=True, eq=False)
class SplitHeads(_Movement):
    """``[..., L, h·d] → [...·h, L, d]``: the last axis split into ``heads`` heads, moved
    before the token axis and merged into the axis before it (if any), so attention over
    windows stays at rank 4: ``[L, h·d] → [h, L, d]``, ``[G, L, h·d] → [G·h, L, d]``."""

    heads: int = 1

    def validate(self) -> None:
        object.__setattr__(self, "heads", int(self.heads))
        if self.heads < 1:
            raise ValueError(f"SplitHeads needs heads >= 1, got {self.heads}")

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        shape = shapes[0]
        if len(shape) not in (2, 3) or shape[-1] % self.heads:
            raise ValueError(f"cannot split {list(shape)} into {self.heads} heads")


@dataclass(frozen=True, eq=False)
class MergeHeads(_Movement):
    """The inverse of :class:`SplitHeads`: ``[...·h, L, d] → [..., L, h·d]``; ``rank`` is
    the per-sample rank of the result (2: ``[h, L, d] → [L, h·d]``, 3: windows kept)."""

    heads: int = 1
    rank: int = 2

    def validate(self) -> None:
        object.__setattr__(self, "heads", int(self.heads))
        object.__setattr__(self, "rank", int(self.rank))
        if self.heads < 1 or self.rank not in (2, 3):
            raise ValueError(f"MergeHeads needs heads >= 1 and rank 2 or 3, got {self}")

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        shape = shapes[0]
        if len(shape) != 3 or shape[0] % self.heads or (self.rank == 2 and shape[0] != self.heads):
            raise ValueError(f"cannot merge {self.heads} heads of {list(shape)}")
