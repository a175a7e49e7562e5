"""Time-axis layouts: SpikingJelly's multi-step ``TNX`` (``[T, N, ...]``) and Lava-DL's
``NXT`` (``[N, ..., T]``).

Data helpers move the axis (NumPy arrays and torch tensors alike)::

    nxt = tnx_to_nxt(x)     # x[t, n, ...] → nxt[n, ..., t]
    tnx = nxt_to_tnx(nxt)   # the inverse

IR nodes never hold a time axis, so the IR pass only records the layout that data for the
graph uses in ``meta["layout"]`` (``"TNX"`` when absent): :func:`to_nxt` / :func:`to_tnx`
set it, and :func:`to_layout` moves a ``[T, N, ...]`` array to the graph's layout.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch

from ..ir.graph import Graph

Data = TypeVar("Data", np.ndarray, torch.Tensor)
LAYOUTS = ("TNX", "NXT")


def _move(x: Data, src: int, dst: int) -> Data:
    return torch.movedim(x, src, dst) if isinstance(x, torch.Tensor) else np.moveaxis(x, src, dst)


def tnx_to_nxt(x: Data) -> Data:
    """``[T, N, ...]`` → ``[N, ..., T]``."""
    return _move(x, 0, -1)


def nxt_to_tnx(x: Data) -> Data:
    """``[N, ..., T]`` → ``[T, N, ...]``."""
    return _move(x, -1, 0)


def layout(graph: Graph) -> str:
    """The time layout recorded on ``graph`` (``TNX`` by default)."""
    return str(graph.meta.get("layout", "TNX"))


def to_nxt(graph: Graph) -> Graph:
    """The same graph, its data declared ``[N, ..., T]`` (as Lava-DL blocks take it)."""
    return graph.with_meta(layout="NXT")


def to_tnx(graph: Graph) -> Graph:
    """The same graph, its data declared ``[T, N, ...]`` (SpikingJelly multi-step)."""
    return graph.with_meta(layout="TNX")


def to_layout(graph: Graph, x: Data) -> Data:
    """Move ``[T, N, ...]`` data ``x`` to the layout ``graph`` declares."""
    return tnx_to_nxt(x) if layout(graph) == "NXT" else x
