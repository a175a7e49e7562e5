"""Pooling nodes, with PyTorch's exact semantics (padding, ceil mode, dilation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .base import Node, as_tuple


def pooled_size(n: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    """PyTorch's pooled length: ``⌊(n + 2p − d(k−1) − 1)/s⌋ + 1`` (``⌈·⌉`` in ceil mode,
    where the last window must start inside the input or its left padding)."""
    span = n + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    return out


@dataclass(frozen=True, eq=False)
class _PoolNd(Node):
    dims: ClassVar[int] = 0
    pool: ClassVar[bool] = True
    keeps_scale: ClassVar[bool] = True
    keeps_shift: ClassVar[bool] = True
    kernel_size: tuple[int, ...] = 1
    stride: tuple[int, ...] = 1
    padding: tuple[int, ...] = 0
    ceil_mode: bool = False

    def _dilation(self) -> tuple[int, ...]:
        return (1,) * self.dims

    def validate(self) -> None:
        for name in ("kernel_size", "stride", "padding"):
            object.__setattr__(self, name, as_tuple(getattr(self, name), self.dims, name))
        object.__setattr__(self, "ceil_mode", bool(self.ceil_mode))
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(f"{self.op}: invalid kernel_size/stride/padding")
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            # PyTorch's rule, also for a dilated window: at most half the kernel size
            raise ValueError(f"{self.op}: padding must be at most half the kernel size")

    def out_size(self, spatial: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(
            pooled_size(n, k, s, p, d, self.ceil_mode)
            for n, k, s, p, d in zip(
                spatial, self.kernel_size, self.stride, self.padding, self._dilation(), strict=True
            )
        )

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        shape = shapes[0]
        if len(shape) != self.dims + 1 or min(self.out_size(shape[1:]), default=0) < 1:
            raise ValueError(f"{self.op} cannot pool an input of shape {list(shape)}")


@dataclass(frozen=True, eq=False)
class _AvgPoolNd(_PoolNd):
    """``Y = (Σ_window X) / D``: ``D`` is the window size (zero padding counted), the cells
    inside the input (``count_include_pad=False``) or ``divisor_override``."""

    linear: ClassVar[bool] = True
    count_include_pad: bool = True
    divisor_override: int | None = None

    def validate(self) -> None:
        super().validate()
        if self.divisor_override is not None and int(self.divisor_override) < 1:
            raise ValueError(f"{self.op}: divisor_override must be >= 1")

    @property
    def plain(self) -> bool:
        """Non-overlapping windows, no padding, floor mode: the pool folds into a synapse."""
        return (
            self.stride == self.kernel_size
            and not any(self.padding)
            and self.divisor_override is None
        )


@dataclass(frozen=True, eq=False)
class AvgPool1d(_AvgPoolNd):
    """Average pooling over [N, C, L]; see :class:`_AvgPoolNd`."""

    dims: ClassVar[int] = 1


@dataclass(frozen=True, eq=False)
class AvgPool2d(_AvgPoolNd):
    """Average pooling over [N, C, H, W]; see :class:`_AvgPoolNd`."""

    dims: ClassVar[int] = 2


@dataclass(frozen=True, eq=False)
class _MaxPoolNd(_PoolNd):
    """``Y = max_window X`` (padding is −∞; window cells ``dilation`` apart)."""

    dilation: tuple[int, ...] = 1

    def _dilation(self) -> tuple[int, ...]:
        return self.dilation

    def validate(self) -> None:
        object.__setattr__(self, "dilation", as_tuple(self.dilation, self.dims, "dilation"))
        if min(self.dilation) < 1:
            raise ValueError(f"{self.op}: dilation must be >= 1")
        super().validate()


@dataclass(frozen=True, eq=False)
class MaxPool1d(_MaxPoolNd):
    """Max pooling over [N, C, L]; see :class:`_MaxPoolNd`."""

    dims: ClassVar[int] = 1


@dataclass(frozen=True, eq=False)
class MaxPool2d(_MaxPoolNd):
    """Max pooling over [N, C, H, W]; see :class:`_MaxPoolNd`."""

    dims: ClassVar[int] = 2


def adaptive_windows(n: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive pooling windows: output ``i`` averages ``[⌊i·n/o⌋, ⌈(i+1)·n/o⌉)``."""
    return [((i * n) // out, -(-((i + 1) * n) // out)) for i in range(out)]


@dataclass(frozen=True, eq=False)
class _AdaptiveAvgPoolNd(Node):
    """``Y[..., i] = mean X[..., ⌊i·n/o⌋ : ⌈(i+1)·n/o⌉]`` per spatial axis (windows of
    uneven size where ``o`` does not divide ``n``, repeated cells where ``o > n``)."""

    dims: ClassVar[int] = 0
    pool: ClassVar[bool] = True
    adaptive: ClassVar[bool] = True
    linear: ClassVar[bool] = True
    keeps_scale: ClassVar[bool] = True
    keeps_shift: ClassVar[bool] = True
    output_size: tuple[int, ...] = 1

    def validate(self) -> None:
        object.__setattr__(
            self, "output_size", as_tuple(self.output_size, self.dims, "output_size")
        )
        if min(self.output_size) < 1:
            raise ValueError(f"{self.op}: output_size must be >= 1")

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        if len(shapes[0]) != self.dims + 1:
            raise ValueError(f"{self.op} cannot pool an input of shape {list(shapes[0])}")

    def as_plain(self, spatial: tuple[int, ...]) -> AvgPool1d | AvgPool2d | None:
        """The equal plain average pool when every output size divides the input's."""
        if any(n % o for n, o in zip(spatial, self.output_size, strict=True)):
            return None
        k = tuple(n // o for n, o in zip(spatial, self.output_size, strict=True))
        return (AvgPool1d if self.dims == 1 else AvgPool2d)(k, k, 0)


@dataclass(frozen=True, eq=False)
class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Adaptive average pooling over [N, C, L]; see :class:`_AdaptiveAvgPoolNd`."""

    dims: ClassVar[int] = 1


@dataclass(frozen=True, eq=False)
class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Adaptive average pooling over [N, C, H, W]; see :class:`_AdaptiveAvgPoolNd`."""

    dims: ClassVar[int] = 2
