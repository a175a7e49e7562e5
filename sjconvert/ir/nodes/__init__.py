"""Typed IR nodes: small frozen dataclasses, one field per parameter, the math in the docstring.

Shapes and dimension indices follow PyTorch with the batch axis at 0 (``[N, C, ...]``).
Time is never an axis of a node: spiking nodes are defined per step ``t`` and the
simulators run them over ``[T, N, ...]``. Arrays are float32, read-only copies.
"""

from __future__ import annotations

from .base import Input, Node, array_field, per_channel
from .dynamics import LI, CubaLIF, Delay, Threshold
from .layers import (
    Add,
    AvgPool1d,
    AvgPool2d,
    BatchNorm,
    Concat,
    Conv1d,
    Conv2d,
    Dropout,
    Flatten,
    Identity,
    Linear,
    MaxPool1d,
    MaxPool2d,
    ReLU,
    Reshape,
    Scale,
    Softmax,
)
from .neurons import IF, LIF, Readout


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.extend([sub] if not sub.__name__.startswith("_") else [])
        out.extend(_subclasses(sub))
    return out


NODE_TYPES: dict[str, type[Node]] = {c.__name__: c for c in _subclasses(Node)}
NEURONS = (IF, LIF)

__all__ = [
    "IF",
    "LI",
    "LIF",
    "NEURONS",
    "NODE_TYPES",
    "Add",
    "AvgPool1d",
    "AvgPool2d",
    "BatchNorm",
    "Concat",
    "Conv1d",
    "Conv2d",
    "CubaLIF",
    "Delay",
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
    "Softmax",
    "Threshold",
    "array_field",
    "per_channel",
]
