"""Parameters and buffers read as tensors in ``forward``, and everything computed from them
alone (Swin's relative position bias, its V2 continuous position bias MLP, a class token
expanded to the batch): *constants*. Capture evaluates them once, on the example input,
and the builders of the calls that combine a constant with the data receive its value
(a class token or position embedding becomes a :class:`~sjconvert.ir.nodes.Constant`,
a layer scale a :class:`~sjconvert.ir.nodes.Scale`)."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import torch
from torch import fx

# Size queries on the data, and calls whose results are sizes: they never make a value data.
_SIZES = {"size", "dim", getattr, operator.getitem}


def _tensor_args(n: fx.Node) -> list[fx.Node]:
    flat: list[Any] = []
    for a in (*n.args, *n.kwargs.values()):
        flat.extend(a if isinstance(a, (tuple, list)) else (a,))
    return [a for a in flat if isinstance(a, fx.Node)]


def constant_nodes(gm: fx.GraphModule) -> set[str]:
    """The fx nodes whose value does not depend on the input: ``get_attr`` nodes and calls
    whose node arguments are all constants or sizes (``x.shape[0]`` only sizes a result)."""
    data: set[str] = set()
    sizes: set[str] = set()
    consts: set[str] = set()
    for n in gm.graph.nodes:
        args = _tensor_args(n)
        if n.op == "get_attr":
            consts.add(n.name)
        elif n.op == "placeholder":
            data.add(n.name)
        elif n.op in ("call_function", "call_method", "call_module"):
            if any(a.name in data for a in args):
                (sizes if n.target in _SIZES else data).add(n.name)
            elif args and all(a.name in consts or a.name in sizes for a in args):
                if any(a.name in consts for a in args):
                    consts.add(n.name)
                else:
                    sizes.add(n.name)
    return consts


def per_sample(value: torch.Tensor, out_rank: int) -> np.ndarray:
    """The value a constant takes for one sample of a result of rank ``out_rank`` (batch
    axis included): its first row when it has a batch axis (of 1, or expanded), else the
    value itself; float32."""
    arr = value.detach().cpu().to(torch.float32)
    if arr.ndim == out_rank:
        arr = arr[0]
    return arr.numpy().copy()
