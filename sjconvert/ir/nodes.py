"""Typed IR nodes: small frozen dataclasses, one field per parameter, the math in the docstring.

Shapes and dimension indices follow PyTorch with the batch axis at 0 (``[N, C, ...]``).
Time is never an axis of a node: spiking nodes are defined per step ``t`` and the
simulators run them over ``[T, N, ...]``. Arrays are float32, read-only copies.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

Array = np.ndarray


def _frozen_array(value: Any, name: str) -> Array:
    arr = np.array(value, dtype=np.float32, copy=True)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or Inf")
    arr.flags.writeable = False
    return arr


def _tuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    out = tuple(int(v) for v in value) if isinstance(value, (tuple, list)) else (int(value),) * n
    if len(out) != n:
        raise ValueError(f"{name} needs {n} values, got {out}")
    return out


@dataclass(frozen=True, eq=False)
class Node:
    """Base class of all IR nodes. ``arity`` is the number of inputs (None: one or more)."""

    arity: ClassVar[int | None] = 1
    spiking: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("array") and value is not None:
                object.__setattr__(self, f.name, _frozen_array(value, f.name))
            elif f.metadata.get("per_channel"):  # scalar, or one value per channel (axis 1)
                arr = np.asarray(value, dtype=np.float64)
                as_array = arr.ndim > 0
                value = _frozen_array(arr, f.name) if as_array else float(arr)
                object.__setattr__(self, f.name, value)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError when the parameters are inconsistent."""

    @property
    def op(self) -> str:
        return type(self).__name__

    def params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def evolve(self, **changes: Any) -> Node:
        """A copy with some fields replaced (nodes are immutable)."""
        return dataclasses.replace(self, **changes)


def array_field(optional: bool = False) -> Any:
    return (
        field(default=None, metadata={"array": True})
        if optional
        else field(metadata={"array": True})
    )


def per_channel(default: float) -> Any:
    """A field holding a scalar or a 1-D array of per-channel values."""
    return field(default=default, metadata={"per_channel": True})


def _check_scalar_or_array(value: Any, name: str, positive: bool) -> None:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    if positive and np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0")


@dataclass(frozen=True, eq=False)
class Input(Node):
    """Graph input: ``Y = X`` with per-sample shape ``shape`` (batch axis excluded)."""

    arity: ClassVar[int | None] = 0
    shape: tuple[int, ...] = ()

    def validate(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        if not self.shape or min(self.shape) < 1:
            raise ValueError(f"Input shape must be non-empty and positive, got {self.shape}")


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
            object.__setattr__(self, name, _tuple(getattr(self, name), n, name))
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
    """``Y = max(X, 0)``."""


@dataclass(frozen=True, eq=False)
class _PoolNd(Node):
    dims: ClassVar[int] = 0
    kernel_size: tuple[int, ...] = 1
    stride: tuple[int, ...] = 1
    padding: tuple[int, ...] = 0

    def validate(self) -> None:
        for name in ("kernel_size", "stride", "padding"):
            object.__setattr__(self, name, _tuple(getattr(self, name), self.dims, name))
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
class IF(Node):
    """Integrate-and-fire neuron, per step t (V[-1] = v_init; Θ(x) = 1 if x >= 0 else 0)::

        H[t] = V[t-1] + X[t]
        S[t] = Θ(H[t] − V_th)
        V[t] = H[t] − V_th·S[t]                        (soft reset, v_reset is None)
        V[t] = H[t]·(1 − S[t]) + V_reset·S[t]          (hard reset)

    ``v_threshold`` and ``v_init`` are scalars or per-channel (axis 1) arrays.
    """

    spiking: ClassVar[bool] = True
    v_threshold: Any = per_channel(1.0)
    v_reset: float | None = None
    v_init: Any = per_channel(0.0)

    def validate(self) -> None:
        _check_scalar_or_array(self.v_threshold, "v_threshold", positive=True)
        _check_scalar_or_array(self.v_init, "v_init", positive=False)
        if self.v_reset is not None and not math.isfinite(self.v_reset):
            raise ValueError("v_reset must be finite or None")

    @property
    def reset_mode(self) -> str:
        return "soft" if self.v_reset is None else "hard"


@dataclass(frozen=True, eq=False)
class LIF(Node):
    """Leaky integrate-and-fire neuron (SpikingJelly semantics), per step t::

        decay_input:     H[t] = V[t-1] + (X[t] − (V[t-1] − V_r)) / τ
        not decay_input: H[t] = V[t-1] − (V[t-1] − V_r) / τ + X[t]

    with ``V_r = v_reset`` (0 for soft reset), then spike and reset as :class:`IF`.
    When ``decay`` is set (ParametricLIF, ``decay = sigmoid(w) = 1/τ``) the charge multiplies
    by ``decay`` instead of dividing by ``τ`` — the same math, kept for bit-exact parity.
    """

    spiking: ClassVar[bool] = True
    tau: float = 2.0
    v_threshold: Any = per_channel(1.0)
    v_reset: float | None = 0.0
    decay_input: bool = True
    v_init: Any = per_channel(0.0)
    decay: float | None = None

    def validate(self) -> None:
        if not (math.isfinite(self.tau) and self.tau >= 1.0):
            raise ValueError(f"LIF tau must be finite and >= 1, got {self.tau}")
        if self.decay is not None and not math.isclose(self.decay * self.tau, 1.0, rel_tol=1e-5):
            raise ValueError(f"LIF decay {self.decay} must equal 1/tau ({1 / self.tau})")
        IF.validate(self)  # type: ignore[arg-type]

    @property
    def reset_mode(self) -> str:
        return "soft" if self.v_reset is None else "hard"


@dataclass(frozen=True, eq=False)
class Softmax(Node):
    """``Y = exp(X) / Σ_dim exp(X)`` (``log``: its logarithm), ``dim >= 1``. Monotonic, so
    conversion drops it at a graph output (the argmax is unchanged) and says so."""

    dim: int = 1
    log: bool = False

    def validate(self) -> None:
        if self.dim < 1:
            raise ValueError(f"Softmax dim must be a non-batch axis >= 1, got {self.dim}")


@dataclass(frozen=True, eq=False)
class Readout(Node):
    """Non-spiking integrator read out as a running mean: ``V[t] = V[t-1] + X[t]``,
    ``Y[t] = V[t] / (t + 1)`` for ``t = 0, 1, …`` (V[-1] = 0)."""


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.extend([sub] if not sub.__name__.startswith("_") else [])
        out.extend(_subclasses(sub))
    return out


NODE_TYPES: dict[str, type[Node]] = {c.__name__: c for c in _subclasses(Node)}
NEURONS = (IF, LIF)
