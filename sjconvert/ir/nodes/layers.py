"""Synapse, pooling, shape and arithmetic nodes (everything but neurons)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .base import Array, Node, array_field, as_tuple


@dataclass(frozen=True, eq=False)
class Linear(Node):
    """Dense synapse: ``Y = X Wᵀ + b`` with ``W`` of shape [out, in]."""

    weight: Array = array_field()
    bias: Array | None = array_field(optional=True)

    def validate(self) -> None:
        if self.weight.ndim != 2:
            raise ValueError(f"Linear weight must be 2-D, got {self.weight.shape}")
        if self.bias is not None and self.bias.shape != (self.weight.shape[0],):
            raise ValueError(f"Linear bias shape {self.bias.shape} != ({self.weight.shape[0]},)")


@dataclass(frozen=True, eq=False)
class _ConvNd(Node):
    """``Y[n, o] = b[o] + Σ_{c ∈ group(o)} (W[o, c] ⋆ X[n, c])`` with stride, padding, dilation."""

    dims: ClassVar[int] = 0
    weight: Array = array_field()
    bias: Array | None = array_field(optional=True)
    stride: tuple[int, ...] = 1
    padding: tuple[int, ...] = 0
    dilation: tuple[int, ...] = 1
    groups: int = 1

    def validate(self) -> None:
        n = self.dims
        for name in ("stride", "padding", "dilation"):
            object.__setattr__(self, name, as_tuple(getattr(self, name), n, name))
        if self.weight.ndim != n + 2:
            raise ValueError(f"{self.op} weight must be {n + 2}-D, got {self.weight.shape}")
        if self.groups < 1 or self.weight.shape[0] % self.groups:
            raise ValueError(f"{self.op}: out channels not divisible by groups={self.groups}")
        if self.bias is not None and self.bias.shape != (self.weight.shape[0],):
            raise ValueError(f"{self.op} bias shape {self.bias.shape} mismatches weight")
        if min(self.stride) < 1 or min(self.dilation) < 1 or min(self.padding) < 0:
            raise ValueError(f"{self.op}: invalid stride/padding/dilation")


@dataclass(frozen=True, eq=False)
class Conv1d(_ConvNd):
    """1-D convolution over [N, C, L]; see :class:`_ConvNd` for the equation."""

    dims: ClassVar[int] = 1


@dataclass(frozen=True, eq=False)
class Conv2d(_ConvNd):
    """2-D convolution over [N, C, H, W]; see :class:`_ConvNd` for the equation."""

    dims: ClassVar[int] = 2


@dataclass(frozen=True, eq=False)
class BatchNorm(Node):
    """Inference batch norm on axis 1 (BatchNorm1d/2d): ``Y = γ (X − μ) / √(σ² + ε) + β``."""

    mean: Array = array_field()
    var: Array = array_field()
    gamma: Array = array_field()
    beta: Array = array_field()
    eps: float = 1e-5

    def validate(self) -> None:
        shapes = {a.shape for a in (self.mean, self.var, self.gamma, self.beta)}
        if len(shapes) != 1 or self.mean.ndim != 1:
            raise ValueError(f"BatchNorm statistics must be 1-D of equal length, got {shapes}")
        if np.any(self.var < 0) or self.eps < 0:
            raise ValueError("BatchNorm variance and eps must be >= 0")


@dataclass(frozen=True, eq=False)
class ReLU(Node):
    """``Y = max(X, 0)``, or ``Y = min(max(X, 0), a)`` with ``a = max_value`` (ReLU6,
    ``hardtanh(x, 0, a)``, ``clamp(x, 0, a)``); conversion caps the firing-rate scale at a."""

    max_value: float | None = None

    def validate(self) -> None:
        a = self.max_value
        if a is not None and not (math.isfinite(a) and a > 0):
            raise ValueError(f"ReLU max_value must be finite and > 0, got {a}")


@dataclass(frozen=True, eq=False)
class _PoolNd(Node):
    dims: ClassVar[int] = 0
    kernel_size: tuple[int, ...] = 1
    stride: tuple[int, ...] = 1
    padding: tuple[int, ...] = 0

    def validate(self) -> None:
        for name in ("kernel_size", "stride", "padding"):
            object.__setattr__(self, name, as_tuple(getattr(self, name), self.dims, name))
        if min(self.kernel_size) < 1 or min(self.stride) < 1 or min(self.padding) < 0:
            raise ValueError(f"{self.op}: invalid kernel_size/stride/padding")
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise ValueError(f"{self.op}: padding must be at most half the kernel size")


@dataclass(frozen=True, eq=False)
class AvgPool1d(_PoolNd):
    """``Y[n, c, i] = mean_{k < K} X[n, c, i·s + k − p]`` (zero padding counted), ceil_mode off."""

    dims: ClassVar[int] = 1


@dataclass(frozen=True, eq=False)
class AvgPool2d(_PoolNd):
    """``Y[n, c, i, j] = mean_{window} X[n, c, ·, ·]`` (zero padding counted), ceil_mode off."""

    dims: ClassVar[int] = 2


@dataclass(frozen=True, eq=False)
class MaxPool1d(_PoolNd):
    """``Y[n, c, i] = max_{k < K} X[n, c, i·s + k − p]`` (padding is −∞)."""

    dims: ClassVar[int] = 1


@dataclass(frozen=True, eq=False)
class MaxPool2d(_PoolNd):
    """``Y[n, c, i, j] = max_{window} X[n, c, ·, ·]`` (padding is −∞)."""

    dims: ClassVar[int] = 2


@dataclass(frozen=True, eq=False)
class Flatten(Node):
    """``Y = X`` with axes ``start_dim..end_dim`` merged (batch axis 0 kept)."""

    start_dim: int = 1
    end_dim: int = -1

    def validate(self) -> None:
        if self.start_dim == 0:
            raise ValueError("Flatten must keep the batch axis (start_dim >= 1)")


@dataclass(frozen=True, eq=False)
class Reshape(Node):
    """``Y = reshape(X, [N, *shape])``: per-sample reshape, batch axis kept."""

    shape: tuple[int, ...] = ()

    def validate(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        if not self.shape or min(self.shape) < 1:
            raise ValueError(f"Reshape needs a concrete positive shape, got {self.shape}")


@dataclass(frozen=True, eq=False)
class Add(Node):
    """Residual sum: ``Y = Σ_i X_i`` (two or more inputs of equal shape)."""

    arity: ClassVar[int | None] = None


@dataclass(frozen=True, eq=False)
class Concat(Node):
    """``Y = cat(X_1, …, X_k, dim)`` with ``dim >= 1`` (batch axis is 0)."""

    arity: ClassVar[int | None] = None
    dim: int = 1

    def validate(self) -> None:
        if self.dim < 1:
            raise ValueError(f"Concat dim must be a non-batch axis >= 1, got {self.dim}")


@dataclass(frozen=True, eq=False)
class Scale(Node):
    """``Y = s ⊙ X``; ``s`` is a scalar or one factor per channel (axis 1)."""

    factor: Array = array_field()

    def validate(self) -> None:
        if self.factor.ndim > 1:
            raise ValueError("Scale factor must be a scalar or 1-D per channel")


@dataclass(frozen=True, eq=False)
class Dropout(Node):
    """Inference dropout: ``Y = X`` (``p`` kept for provenance)."""

    p: float = 0.5


@dataclass(frozen=True, eq=False)
class Identity(Node):
    """``Y = X``."""


@dataclass(frozen=True, eq=False)
class Softmax(Node):
    """``Y = exp(X) / Σ_dim exp(X)`` (``log``: its logarithm), ``dim >= 1``. Monotonic, so
    conversion drops it at a graph output (the argmax is unchanged) and says so."""

    dim: int = 1
    log: bool = False

    def validate(self) -> None:
        if self.dim < 1:
            raise ValueError(f"Softmax dim must be a non-batch axis >= 1, got {self.dim}")
