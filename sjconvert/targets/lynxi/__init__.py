"""Lynxi target: the SNN as a plain torch module Lynxi's compiler accepts (rank ≤ 4, no
in-place op, [N, ...] or [T·N, ...] input, float16 by default), its constraint checker, and
lyngor / lynpy calls when Lynxi's SDK is installed."""

from __future__ import annotations

import torch

from ...ir.graph import Graph
from . import layers, neurons
from .check import check_module, violations
from .net import SpikingNet, build, torch_dtype
from .sdk import compile_lynxi, load_lynxi, require_sdk

__all__ = [
    "SpikingNet",
    "check_module",
    "compile_lynxi",
    "example_input",
    "layers",
    "load_lynxi",
    "neurons",
    "require_sdk",
    "to_lynxi",
    "violations",
]


def example_input(
    graph: Graph, T: int, n: int = 2, sequence: bool = False, dtype: str | torch.dtype = "float32"
) -> torch.Tensor:
    """A zero input ``[n, ...]`` (``[T·n, ...]`` with ``sequence``) for the graph's input."""
    lead = T * n if sequence else n
    return torch.zeros(lead, *graph.shapes[graph.inputs[0]], dtype=torch_dtype(dtype))


def to_lynxi(graph: Graph, T: int, dtype: str = "float16", sequence: bool = False) -> SpikingNet:
    """The SNN ``graph`` as a Lynxi-compatible torch module run for ``T`` steps.

    Input ``[N, ...]`` (direct input, the same every step) or with ``sequence`` ``[T·N, ...]``
    (step-major); output the rate ``[N, classes]`` of each graph output. The module is traced
    and checked (:func:`check_module`) before it is returned."""
    net = build(graph, T, "lynxi", dtype, sequence)
    check_module(net, example_input(graph, T, sequence=sequence, dtype=dtype))
    return net
