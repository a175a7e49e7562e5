"""Typed IR nodes: small frozen dataclasses, one field per parameter, the math in the docstring
and the op's kind as traits on the class (:mod:`.base`).

Shapes and dimension indices follow PyTorch with the batch axis at 0 (``[N, C, ...]``).
Time is never an axis of a node: stateful nodes are defined per step ``t`` and the
executors run them over ``[T, N, ...]``. Arrays are float32, read-only copies.
"""

from __future__ import annotations

from .base import Input, Node, array_field, per_channel
from .dynamics import LI, Accumulate, CubaLIF, Delay, Difference, Threshold
from .layers import (
    Add,
    BatchNorm,
    Conv1d,
    Conv2d,
    Dropout,
    Identity,
    Linear,
    ReLU,
    Scale,
    Softmax,
)
from .movement import Concat, Flatten, Reshape, Slice, Transpose
from .neurons import IF, LIF, Readout, SignedIF
from .pools import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.extend([sub] if not sub.__name__.startswith("_") else [])
        out.extend(_subclasses(sub))
    return out


NODE_TYPES: dict[str, type[Node]] = {c.__name__: c for c in _subclasses(Node)}
globals().update(NODE_TYPES)  # every node class is ``nodes.<Name>``, listed above or not

__all__ = [
    "IF",
    "LI",
    "LIF",
    "NODE_TYPES",
    "Accumulate",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "Add",
    "AvgPool1d",
    "AvgPool2d",
    "BatchNorm",
    "Concat",
    "Conv1d",
    "Conv2d",
    "CubaLIF",
    "Delay",
    "Difference",
    "Dropout",
    "Flatten",
    "Identity",
    "Input",
    "Linear",
    "MaxPool1d",
    "MaxPool2d",
    "Node",
    "ReLU",
    "Readout",
    "Reshape",
    "Scale",
    "SignedIF",
    "Slice",
    "Softmax",
    "Threshold",
    "Transpose",
    "array_field",
    "per_channel",
]
