"""Synapses, batch norm, activations and arithmetic nodes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .base import Array, Node, array_field, as_tuple


@dataclass(frozen=True, eq=False)
class Linear(Node):
    """Dense synapse: ``Y = X Wᵀ + b`` with ``W`` of shape [out, in]."""

    synapse: ClassVar[bool] = True
    weight: Array = array_field()
    bias: Array | None = array_field(optional=True)

    def validate(self) -> None:
        if self.weight.ndim != 2:
            raise ValueError(f"Linear weight must be 2-D, got {self.weight.shape}")
        if self.bias is not None and self.bias.shape != (self.weight.shape[0],):
            raise ValueError(f"Linear bias shape {self.bias.shape} != ({self.weight.shape[0]},)")

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        if shapes[0][-1:] != (self.weight.shape[1],):
            raise ValueError(f"Linear takes {self.weight.shape[1]} features, got {list(shapes[0])}")


@dataclass(frozen=True, eq=False)
class _ConvNd(Node):
    """``Y[n, o] = b[o] + Σ_{c ∈ group(o)} (W[o, c] ⋆ X[n, c])`` with stride, padding, dilation."""

    synapse: ClassVar[bool] = True
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
        object.__setattr__(self, "groups", int(self.groups))
        if self.weight.ndim != n + 2 or 0 in self.weight.shape:
            raise ValueError(f"{self.op} weight must be {n + 2}-D, got {self.weight.shape}")
        if self.groups < 1 or self.weight.shape[0] % self.groups:
            raise ValueError(f"{self.op}: out channels not divisible by groups={self.groups}")
        if self.bias is not None and self.bias.shape != (self.weight.shape[0],):
            raise ValueError(f"{self.op} bias shape {self.bias.shape} mismatches weight")
        if min(self.stride) < 1 or min(self.dilation) < 1 or min(self.padding) < 0:
            raise ValueError(f"{self.op}: invalid stride/padding/dilation")

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        shape = shapes[0]
        want = self.weight.shape[1] * self.groups
        if len(shape) != self.dims + 1 or shape[0] != want:
            raise ValueError(
                f"{self.op} takes [{want}, {'L' if self.dims == 1 else 'H, W'}] inputs "
                f"({self.weight.shape[1]} channels × {self.groups} groups), got {list(shape)}"
            )
        kernel = self.weight.shape[2:]
        spans = [d * (k - 1) + 1 for d, k in zip(self.dilation, kernel, strict=True)]
        if any(n + 2 * p < s for n, p, s in zip(shape[1:], self.padding, spans, strict=True)):
            raise ValueError(
                f"{self.op} kernel {list(kernel)} (dilation {list(self.dilation)}) is larger "
                f"than its input {list(shape)} padded by {list(self.padding)}"
            )


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

    affine: ClassVar[bool] = True
    mean: Array = array_field()
    var: Array = array_field()
    gamma: Array = array_field()
    beta: Array = array_field()
    eps: float = 1e-5

    def validate(self) -> None:
        shapes = {a.shape for a in (self.mean, self.var, self.gamma, self.beta)}
        if len(shapes) != 1 or self.mean.ndim != 1:
            raise ValueError(f"BatchNorm statistics must be 1-D of equal length, got {shapes}")
        if np.any(self.var < 0) or not (math.isfinite(self.eps) and self.eps >= 0):
            raise ValueError("BatchNorm variance and eps must be >= 0")

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        if shapes[0][:1] != (self.mean.shape[0],):
            raise ValueError(
                f"BatchNorm has {self.mean.shape[0]} channels, input {list(shapes[0])}"
            )


@dataclass(frozen=True, eq=False)
class ReLU(Node):
    """``Y = max(X, 0)``, or ``Y = min(max(X, 0), a)`` with ``a = max_value`` (ReLU6,
    ``hardtanh(x, 0, a)``, ``clamp(x, 0, a)``); conversion caps the firing-rate scale at a."""

    elementwise: ClassVar[bool] = True
    becomes_neuron: ClassVar[bool] = True
    max_value: float | None = None

    def validate(self) -> None:
        a = self.max_value
        if a is not None and not (math.isfinite(a) and a > 0):
            raise ValueError(f"ReLU max_value must be finite and > 0, got {a}")


@dataclass(frozen=True, eq=False)
class Add(Node):
    """Residual sum: ``Y = Σ_i X_i`` (two or more inputs of equal shape)."""

    arity: ClassVar[int | None] = None
    sums: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        if len(shapes) < 2 or len(set(shapes)) != 1:
            raise ValueError(f"Add needs two or more inputs of one shape, got {shapes}")


@dataclass(frozen=True, eq=False)
class Scale(Node):
    """``Y = s ⊙ X``; ``s`` is a scalar or one factor per channel (axis 1)."""

    elementwise: ClassVar[bool] = True
    linear: ClassVar[bool] = True
    keeps_scale: ClassVar[bool] = True
    factor: Array = array_field()

    def validate(self) -> None:
        if self.factor.ndim > 1:
            raise ValueError("Scale factor must be a scalar or 1-D per channel")

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        if self.factor.ndim and shapes[0][:1] != self.factor.shape:
            raise ValueError(f"Scale has {self.factor.size} factors, input {list(shapes[0])}")


@dataclass(frozen=True, eq=False)
class Dropout(Node):
    """Inference dropout: ``Y = X`` (``p`` kept for provenance)."""

    identity: ClassVar[bool] = True
    linear: ClassVar[bool] = True
    keeps_scale: ClassVar[bool] = True
    keeps_shift: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True
    p: float = 0.5


@dataclass(frozen=True, eq=False)
class Identity(Node):
    """``Y = X``."""

    identity: ClassVar[bool] = True
    linear: ClassVar[bool] = True
    keeps_scale: ClassVar[bool] = True
    keeps_shift: ClassVar[bool] = True
    elementwise: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class Softmax(Node):
    """``Y = exp(X) / Σ_dim exp(X)`` (``log``: its logarithm), ``dim >= 1``. Monotonic, so
    conversion drops it at a graph output (the argmax is unchanged) and says so. Elsewhere
    (attention) it is an op on accumulated values."""

    transcendental: ClassVar[bool] = True
    accumulated: ClassVar[bool] = True
    dim: int = 1
    log: bool = False

    def validate(self) -> None:
        if self.dim < 1:
            raise ValueError(f"Softmax dim must be a non-batch axis >= 1, got {self.dim}")
