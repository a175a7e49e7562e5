"""IR node base class, field helpers and the graph input node.

Shapes and dimension indices follow PyTorch with the batch axis at 0 (``[N, C, ...]``).
Time is never an axis of a node: spiking nodes are defined per step ``t`` and the
simulators run them over ``[T, N, ...]``. Arrays are float32, read-only copies.
"""

from __future__ import annotations

import dataclasses
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


def as_tuple(value: Any, n: int, name: str) -> tuple[int, ...]:
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


def check_scalar_or_array(value: Any, name: str, positive: bool) -> None:
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
