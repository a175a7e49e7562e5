"""IR node base class, its traits, field helpers and the graph input node.

Shapes and dimension indices follow PyTorch with the batch axis at 0 (``[N, C, ...]``).
Time is never an axis of a node: stateful nodes are defined per step ``t`` and the
executors run them over ``[T, N, ...]``. Arrays are float32, read-only copies.

**Traits.** What kind of op a node is lives on its class, as class variables that passes,
executors and targets read (never as tuples of classes repeated across files):

=================  ==============================================================
``synapse``        weighted sum ``Y = W ⋆ X + b`` with ``weight`` and ``bias`` fields
``affine``         per-channel affine map with a bias (batch norm)
``spiking``        emits spikes 0/1 (neurons); ``stateful`` nodes carry state over t
``signed``         a spiking node whose spikes are −1, 0 or 1 (each counts as one event)
``rate_coded``     a neuron whose rate model is ``clamp(X / V_th, 0, B)`` (−B for a
                   ``bipolar`` one; IF, SignedIF, BipolarIF,
                   LIF, CubaLIF; ``ops.kernels`` registers that model from this trait)
``sums``           ``Y = Σ_i X_i`` over two or more inputs (the schedule runs it and folds
                   scalar scales into it)
``readout``        read out at a graph output as the running mean of its input
``cumulative``     part of cumulative pooling: a running sum over time or its inverse
``identity``       ``Y = X`` at inference (dropout, identity)
``movement``       only rearranges values (flatten, reshape, transpose, slice, concat)
``reshapes``       a movement that keeps the row-major order of the values (flatten, reshape)
``pool``           pooling over spatial windows (max pooling: ``pool`` and not ``linear``)
``adaptive``       a pool whose windows follow from its output size
``linear``         ``Y`` is linear in ``X`` without a bias (pools, movement, identity)
``keeps_scale``    ``f(s ⊙ X) = s ⊙ f(X)`` for a positive scale ``s`` per channel (the
                   channel axis survives, possibly moved: the normalisation λ passes)
``keeps_shift``    ``f(X + δ) = f(X) + δ`` for a shift ``δ`` per channel on axis 1
``elementwise``    applied value by value (the per-channel axis 1 is kept in place)
``transcendental`` computes exp, log or another function libraries round differently: a
                   runtime with kernels of its own (ONNX Runtime) agrees to a few ulps,
                   not bit for bit (IEEE 754 rounds +, −, ×, ÷, √ one way only)
``accumulated``    a non-spiking op on accumulated values (GELU, LayerNorm, softmax,
                   products of two time-varying values): in a spiking graph it reads
                   the running means of its inputs (``docs/transformers.md``)
``product``        the product of two time-varying values (Mul; MatMul ``contracts``
                   the last axis of one with an axis of the other)
``becomes_neuron`` an ANN node that conversion turns into a neuron (ReLU, Encode)
``bipolar``        a spiking node whose spikes take either sign freely (no memory limit)
=================  ==============================================================
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

Array = np.ndarray


def _frozen_array(value: Any, name: str) -> Array:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    owned = arr.dtype == np.float32 and arr.base is None and not arr.flags.writeable
    if not owned:  # a frozen array (owned, read-only) is shared: a VGG weight is 400 MB
        with np.errstate(over="ignore", invalid="ignore"):
            arr = np.array(arr, dtype=np.float32, copy=True)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or Inf (or values beyond float32)")
    arr.flags.writeable = False
    return arr


def _per_channel_value(value: Any, name: str) -> float | Array:
    """A scalar kept as a Python float (full precision), or a frozen float32 ``[C]`` array."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        if arr.dtype.kind not in "biuf" or not np.isfinite(float(arr)):
            raise ValueError(f"{name} must be a finite real number, got {value!r}")
        return float(arr)
    out = _frozen_array(arr, name)
    if out.ndim > 1:
        raise ValueError(f"{name} must be a scalar or one value per channel")
    return out


def as_tuple(value: Any, n: int, name: str) -> tuple[int, ...]:
    out = tuple(int(v) for v in value) if isinstance(value, (tuple, list)) else (int(value),) * n
    if len(out) != n:
        raise ValueError(f"{name} needs {n} values, got {out}")
    return out


@dataclass(frozen=True, eq=False)
class Node:
    """Base class of all IR nodes. ``arity`` is the number of inputs (None: one or more)."""

    arity: ClassVar[int | None] = 1
    synapse: ClassVar[bool] = False
    affine: ClassVar[bool] = False
    spiking: ClassVar[bool] = False
    signed: ClassVar[bool] = False
    stateful: ClassVar[bool] = False
    rate_coded: ClassVar[bool] = False
    sums: ClassVar[bool] = False
    readout: ClassVar[bool] = False
    cumulative: ClassVar[bool] = False
    identity: ClassVar[bool] = False
    movement: ClassVar[bool] = False
    reshapes: ClassVar[bool] = False
    selects: ClassVar[bool] = False  # each output element is one fixed input element
    pool: ClassVar[bool] = False
    adaptive: ClassVar[bool] = False
    linear: ClassVar[bool] = False
    keeps_scale: ClassVar[bool] = False
    keeps_shift: ClassVar[bool] = False
    elementwise: ClassVar[bool] = False
    transcendental: ClassVar[bool] = False
    accumulated: ClassVar[bool] = False
    bipolar: ClassVar[bool] = False
    becomes_neuron: ClassVar[bool] = False
    product: ClassVar[bool] = False
    contracts: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("array") and value is not None:
                object.__setattr__(self, f.name, _frozen_array(value, f.name))
            elif f.metadata.get("per_channel"):  # scalar, or one value per channel (axis 1)
                object.__setattr__(self, f.name, _per_channel_value(value, f.name))
        self.validate()

    def validate(self) -> None:
        """Raise ValueError when the parameters are inconsistent."""

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle through the constructor, so arrays come back frozen and checked."""
        return (type(self), tuple(getattr(self, f.name) for f in dataclasses.fields(self)))

    @property
    def op(self) -> str:
        return type(self).__name__

    def params(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def evolve(self, **changes: Any) -> Node:
        """A copy with some fields replaced (nodes are immutable)."""
        return dataclasses.replace(self, **changes)

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        """Raise ValueError when input per-sample ``shapes`` cannot feed this node."""


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


def channel_count(value: Any) -> int | None:
    """Channels of a per-channel field: None for a scalar, else its length."""
    arr = np.asarray(value)
    return None if arr.ndim == 0 else int(arr.shape[0])


def check_channels(node: Node, shape: tuple[int, ...], *names: str) -> None:
    """Per-channel fields ``names`` of ``node`` must have one value per channel of ``shape``."""
    for name in names:
        n = channel_count(getattr(node, name))
        if n is not None and (not shape or shape[0] != n):
            raise ValueError(f"{node.op} {name} has {n} values for input shape {list(shape)}")


@dataclass(frozen=True, eq=False)
class Input(Node):
    """Graph input: ``Y = X`` with per-sample shape ``shape`` (batch axis excluded);
    ``sequence`` marks an input that is a ``[T, N, ...]`` sequence (one value per step)
    rather than a static ``[N, ...]`` value presented at every step."""

    arity: ClassVar[int | None] = 0
    shape: tuple[int, ...] = ()
    sequence: bool = False

    def validate(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        if not self.shape or min(self.shape) < 1:
            raise ValueError(f"Input shape must be non-empty and positive, got {self.shape}")
