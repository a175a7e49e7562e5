"""Stateless IR ops in torch, registered per op name (the reference simulator's kernels).

Each kernel takes the node's prepared parameters and its input tensors ``[B, ...]``, where
``B`` is a batch, or time and batch folded together (``T·N``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import UnsupportedOpError
from ..ir import nodes as ir

Kernel = Callable[[dict[str, Any], list[torch.Tensor]], torch.Tensor]
KERNELS: dict[str, Kernel] = {}


def kernel(*ops: type[ir.Node]) -> Callable[[Kernel], Kernel]:
    """Register a torch kernel for one or more node types; registering twice is an error."""

    def deco(fn: Kernel) -> Kernel:
        for op in ops:
            if op.__name__ in KERNELS:
                raise ValueError(f"torch kernel for {op.__name__} registered twice")
            KERNELS[op.__name__] = fn
        return fn

    return deco


def channel_view(
    value: Any, ndim: int, dtype: torch.dtype, device: torch.device | str | None = None
) -> torch.Tensor | float:
    """A scalar stays a float; a per-channel array becomes a [C, 1, ...] tensor for axis 1."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        return float(arr)
    return torch.tensor(arr, dtype=dtype, device=device).reshape(-1, *([1] * (ndim - 2)))


def prepare(
    node: ir.Node, dtype: torch.dtype, device: torch.device | str | None = None
) -> dict[str, Any]:
    """Convert a node's array fields to torch tensors once, before any batch runs."""
    out: dict[str, Any] = {"node": node}
    for key, value in node.params().items():
        is_array = isinstance(value, np.ndarray)
        out[key] = torch.tensor(value, dtype=dtype, device=device) if is_array else value
    return out


@kernel(ir.Linear)
def _linear(p: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
    return F.linear(xs[0], p["weight"], p["bias"])


@kernel(ir.Conv1d, ir.Conv2d)
def _conv(p: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
    fn = F.conv1d if isinstance(p["node"], ir.Conv1d) else F.conv2d
    return fn(xs[0], p["weight"], p["bias"], p["stride"], p["padding"], p["dilation"], p["groups"])


@kernel(ir.BatchNorm)
def _bn(p: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
    return F.batch_norm(xs[0], p["mean"], p["var"], p["gamma"], p["beta"], False, 0.0, p["eps"])


@kernel(ir.ReLU)
def _relu(p: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
    a = p["node"].max_value
    return torch.relu(xs[0]) if a is None else torch.clamp(xs[0], 0.0, a)


@kernel(ir.AvgPool1d, ir.AvgPool2d)
def _avgpool(p: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
    fn = F.avg_pool1d if isinstance(p["node"], ir.AvgPool1d) else F.avg_pool2d
    return fn(xs[0], p["kernel_size"], p["stride"], p["padding"])


@kernel(ir.MaxPool1d, ir.MaxPool2d)
def _maxpool(p: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
    fn = F.max_pool1d if isinstance(p["node"], ir.MaxPool1d) else F.max_pool2d
    return fn(xs[0], p["kernel_size"], p["stride"], p["padding"])


@kernel(ir.Flatten)
def _flatten(p: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
    return torch.flatten(xs[0], p["start_dim"], p["end_dim"])


@kernel(ir.Reshape)
def _reshape(p: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
    return xs[0].reshape(xs[0].shape[0], *p["shape"])


@kernel(ir.Add)
def _add(p: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
    out = xs[0] + xs[1]
    for x in xs[2:]:
        out = out + x
    return out


@kernel(ir.Concat)
def _concat(p: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat(xs, dim=p["dim"])


@kernel(ir.Scale)
def _scale(p: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
    f = p["factor"]
    return xs[0] * (f if f.ndim == 0 else f.reshape(-1, *([1] * (xs[0].ndim - 2))))


@kernel(ir.Softmax)
def _softmax(p: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
    fn = F.log_softmax if p["log"] else F.softmax
    return fn(xs[0], dim=p["dim"])


@kernel(ir.Dropout, ir.Identity)
def _identity(p: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
    return xs[0]


def rate_model(p: dict[str, Any], xs: list[torch.Tensor]) -> torch.Tensor:
    """Rate (ANN-mode) view of a neuron: ``clamp(X / V_th, 0, 1)`` for IF/LIF; identity for
    a readout. Used for shape inference and to check normalisation, not for simulation."""
    node = p["node"]
    if isinstance(node, ir.Readout):
        return xs[0]
    th = channel_view(node.v_threshold, xs[0].ndim, xs[0].dtype, xs[0].device)
    return torch.clamp(xs[0] / th, 0.0, 1.0)


def get_kernel(node: ir.Node, name: str) -> Kernel:
    try:
        return KERNELS[node.op]
    except KeyError:
        raise UnsupportedOpError(
            f"reference simulator: no kernel for {node.op} at '{name}'"
        ) from None
