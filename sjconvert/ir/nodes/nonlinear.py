"""Smooth activations, layer normalisation and products of two values: the ops of modern
classifiers (EfficientNet, MobileNetV3, RegNetY, ConvNeXt, ViT, Swin, MaxViT).

None of them commutes with a running mean, so none is spike-driven: in a spiking graph each
reads the running means of its time-varying inputs and its increments are emitted again
(trait ``accumulated``; ``docs/transformers.md``). Their rate model is the op itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .base import Array, Node, array_field


@dataclass(frozen=True, eq=False)
class _Smooth(Node):
    """An element-wise nonlinearity on accumulated values."""

    elementwise: ClassVar[bool] = True
    accumulated: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class GELU(_Smooth):
    """``Y = X·Φ(X)`` (Φ: the standard normal CDF, through ``erf``), or with ``tanh`` its
    approximation ``X/2·(1 + tanh(√(2/π)(X + 0.044715 X³)))``."""

    transcendental: ClassVar[bool] = True
    tanh: bool = False


@dataclass(frozen=True, eq=False)
class SiLU(_Smooth):
    """``Y = X·σ(X)`` with ``σ(x) = 1 / (1 + e^{−x})`` (swish)."""

    transcendental: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class Hardswish(_Smooth):
    """``Y = X·min(max(X + 3, 0), 6) / 6``."""


@dataclass(frozen=True, eq=False)
class Hardsigmoid(_Smooth):
    """``Y = min(max(X + 3, 0), 6) / 6``."""


@dataclass(frozen=True, eq=False)
class Sigmoid(_Smooth):
    """``Y = 1 / (1 + e^{−X})``."""

    transcendental: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class Tanh(_Smooth):
    """``Y = tanh(X)``."""

    transcendental: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class LayerNorm(Node):
    """Layer normalisation over the last axes (those of ``γ``): ``μ = mean X``,
    ``σ² = mean (X − μ)²`` over those axes, ``Y = (X − μ)/√(σ² + ε)·γ + β`` with ``γ``,
    ``β`` of the normalised shape (the last axes of the input)."""

    accumulated: ClassVar[bool] = True
    transcendental: ClassVar[bool] = True  # √ of a reduction: ONNX Runtime sums its own way
    weight: Array = array_field()
    bias: Array = array_field()
    eps: float = 1e-5

    @classmethod
    def conformance_example(cls, shape: tuple[int, ...]) -> LayerNorm:
        """The conformance suite's node (its generic draw sets every ``eps`` to 0, which
        this node refuses): dyadic ``γ``, ``β`` over the last axis."""
        n = shape[-1]
        steps = np.arange(n, dtype=np.float32) / 8
        return cls(1.0 + steps, steps - 0.5, 0.125)

    def validate(self) -> None:
        if not (math.isfinite(self.eps) and self.eps > 0):
            raise ValueError(
                f"LayerNorm eps must be finite and > 0, got {self.eps}: spikes often give a "
                "constant row (no neuron fired), where eps = 0 divides zero by zero"
            )
        if self.weight.shape != self.bias.shape or self.weight.ndim < 1:
            raise ValueError(
                f"LayerNorm weight {self.weight.shape} and bias {self.bias.shape} must match"
            )

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        shape, want = shapes[0], self.weight.shape
        if shape[len(shape) - len(want) :] != want:
            raise ValueError(f"LayerNorm over {list(want)} cannot take {list(shape)}")


def broadcast(shapes: list[tuple[int, ...]], what: str) -> tuple[int, ...]:
    """The per-sample shape two values broadcast to (NumPy rules), or ValueError."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise ValueError(f"{what} cannot broadcast shapes {shapes}") from None


@dataclass(frozen=True, eq=False)
class Mul(Node):
    """Element-wise product ``Y = A ⊙ B`` (per-sample shapes broadcast: a ``[C, 1, 1]`` gate
    scales a ``[C, H, W]`` map). With one static input it is linear in the other."""

    arity: ClassVar[int | None] = 2
    accumulated: ClassVar[bool] = True
    product: ClassVar[bool] = True

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        out = broadcast(shapes, "Mul")
        if len(set(map(len, shapes))) != 1 or out not in shapes:
            raise ValueError(f"Mul takes inputs of one rank, one of them full-size: {shapes}")


@dataclass(frozen=True, eq=False)
class MatMul(Node):
    """Batched matrix product ``Y[..., i, j] = Σ_k A[..., i, k]·B[..., k, j]`` over the last
    two axes, leading per-sample axes equal (attention's ``Q Kᵀ`` and ``softmax(·) V``)."""

    arity: ClassVar[int | None] = 2
    accumulated: ClassVar[bool] = True
    product: ClassVar[bool] = True
    contracts: ClassVar[bool] = True

    def check_inputs(self, shapes: list[tuple[int, ...]]) -> None:
        a, b = shapes
        if len(a) < 2 or len(a) != len(b) or a[:-2] != b[:-2] or a[-1] != b[-2]:
            raise ValueError(f"MatMul cannot multiply {list(a)} by {list(b)}")


@dataclass(frozen=True, eq=False)
class L2Normalize(Node):
    """``Y = X / max(‖X‖₂, ε)`` over the last axis (Swin V2's cosine attention)."""

    accumulated: ClassVar[bool] = True
    transcendental: ClassVar[bool] = True  # √ of a reduction: ONNX Runtime sums its own way
    eps: float = 1e-12

    @classmethod
    def conformance_example(cls, shape: tuple[int, ...]) -> L2Normalize:
        """The conformance suite's node (its generic draw sets every ``eps`` to 0, which
        this node refuses)."""
        return cls()

    def validate(self) -> None:
        if not (math.isfinite(self.eps) and self.eps > 0):
            raise ValueError(f"L2Normalize eps must be finite and > 0, got {self.eps}")
