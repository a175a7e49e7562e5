"""Lynxi target: the SNN as a plain torch module Lynxi's compiler accepts (rank ≤ 4, no
in-place op, ``[N, ...]`` or ``[T·N, ...]`` input, float16 by default) — the module executor
of :mod:`sjconvert.exec.module` — its constraint checker, and lyngor / lynpy calls when
Lynxi's SDK is installed."""

from __future__ import annotations

from typing import Any

import torch

from ...errors import EmitError, InputError
from ...exec.module import SpikingNet, exportable
from ...exec.shapes import with_shapes
from ...ir import nodes as ir
from ...ir.graph import Graph
from ..registry import Registry
from .check import check_module, violations
from .sdk import compile_lynxi, load_lynxi, require_sdk

DTYPES = {"float32": torch.float32, "float16": torch.float16}

__all__ = [
    "REGISTRY",
    "check_module",
    "compile_lynxi",
    "example_input",
    "load_lynxi",
    "require_sdk",
    "to_lynxi",
    "torch_dtype",
    "violations",
]


def _shared(name: str, node: ir.Node, ctx: Any) -> None:
    """The module executor's own module for the node (its kernel or step program)."""


REGISTRY: Registry[Any, None] = Registry("lynxi")
REGISTRY.add(exportable(), _shared)


def torch_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"float16"`` / ``"float32"`` (or a torch dtype among them) as a torch dtype."""
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    if dtype not in DTYPES:
        raise InputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    return DTYPES[str(dtype)]


def example_input(
    graph: Graph, T: int, n: int = 2, sequence: bool = False, dtype: str | torch.dtype = "float32"
) -> torch.Tensor:
    """A zero input ``[n, ...]`` (``[T·n, ...]`` with ``sequence``) for the graph's input."""
    lead = T * n if sequence else n
    shape = with_shapes(graph).shapes[graph.inputs[0]]
    return torch.zeros(lead, *shape, dtype=torch_dtype(dtype))


def to_lynxi(graph: Graph, T: int, dtype: str = "float16", sequence: bool = False) -> SpikingNet:
    """The SNN ``graph`` as a Lynxi-compatible torch module run for ``T`` steps.

    Input ``[N, ...]`` (direct input, the same every step) or with ``sequence`` ``[T·N, ...]``
    (step-major); output the rate ``[N, classes]`` of each graph output. The module is traced
    and checked (:func:`check_module`) before it is returned."""
    REGISTRY.check(graph)
    if len(graph.inputs) != 1:
        raise EmitError(f"lynxi: the graph must have one input, it has {len(graph.inputs)}")
    net = SpikingNet(graph, T, torch_dtype(dtype), sequence=sequence).eval()
    check_module(net, example_input(graph, T, sequence=sequence, dtype=dtype))
    return net
