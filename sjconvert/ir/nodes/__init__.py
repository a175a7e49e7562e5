"""Typed IR nodes: small frozen dataclasses, one field per parameter, the math in the docstring
and the op's kind as traits on the class (:mod:`.base`).

Shapes and dimension indices follow PyTorch with the batch axis at 0 (``[N, C, ...]``).
Time is never an axis of a node: stateful nodes are defined per step ``t`` and the
executors run them over ``[T, N, ...]``. Arrays are float32, read-only copies.
"""

from __future__ import annotations

from .base import Input, Node, array_field, per_channel
from .dynamics import LI, Accumulate, CubaLIF, Delay, Difference, Threshold
from .expectation import BipolarIF, Compensate, Encode, RunningMean
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
from .nonlinear import (
    GELU,
    Hardsigmoid,
    Hardswish,
    L2Normalize,
    LayerNorm,
    MatMul,
    Mul,
    Sigmoid,
    SiLU,
    Tanh,
)
from .pools import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)
from .tokens import (
    Constant,
    MergeHeads,
    Pad,
    PatchMerge,
    Roll,
    SplitHeads,
    WindowMerge,
    WindowPartition,
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
    "GELU",
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
    "BipolarIF",
    "Compensate",
    "Concat",
    "Constant",
    "Conv1d",
    "Conv2d",
    "CubaLIF",
    "Delay",
    "Difference",
    "Dropout",
    "Encode",
    "Flatten",
    "Hardsigmoid",
    "Hardswish",
    "Identity",
    "Input",
    "L2Normalize",
    "LayerNorm",
    "Linear",
    "MatMul",
    "MaxPool1d",
    "MaxPool2d",
    "MergeHeads",
    "Mul",
    "Node",
    "Pad",
    "PatchMerge",
    "ReLU",
    "Readout",
    "Reshape",
    "Roll",
    "RunningMean",
    "Scale",
    "SiLU",
    "Sigmoid",
    "SignedIF",
    "Slice",
    "Softmax",
    "SplitHeads",
    "Tanh",
    "Threshold",
    "Transpose",
    "WindowMerge",
    "WindowPartition",
    "array_field",
    "per_channel",
]
