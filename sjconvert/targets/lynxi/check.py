"""Prove a torch module meets Lynxi's graph constraints: no tensor of rank > 4 anywhere and no
in-place op (the Lynxi compiler silently ignores writes such as ``x[t] = y``).

The module is traced with :mod:`torch.fx` (custom modules are traced through, standard
layers stay leaves) and run on an example input with ShapeProp, so every intermediate
value's rank is known. Each violation names its fx node.
"""

from __future__ import annotations

import contextlib
import io
import operator

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from ...errors import EmitError

MAX_RANK = 4
INPLACE_FUNCTIONS = {
    operator.setitem,
    operator.iadd,
    operator.isub,
    operator.imul,
    operator.itruediv,
    operator.ifloordiv,
    operator.ipow,
    operator.iand,
    operator.ior,
}


def _inplace(n: fx.Node, gm: fx.GraphModule) -> bool:
    if n.op == "call_method":
        name = str(n.target)
        return name.endswith("_") and not name.startswith("_")
    if n.op == "call_function":
        name = getattr(n.target, "__name__", "")
        return (
            n.target in INPLACE_FUNCTIONS
            or bool(n.kwargs.get("inplace"))
            or (name.endswith("_") and not name.startswith("_"))
            or n.kwargs.get("out") is not None
        )
    if n.op == "call_module":
        return bool(getattr(gm.get_submodule(str(n.target)), "inplace", False))
    return False


def _ranks(meta: object) -> list[int]:
    """Ranks in ShapeProp's ``tensor_meta`` (one TensorMetadata, or nested tuples of them)."""
    shape = getattr(meta, "shape", None)
    if isinstance(shape, torch.Size):
        return [len(shape)]
    if isinstance(meta, (tuple, list)):
        return [r for v in meta for r in _ranks(v)]
    return []


def violations(module: nn.Module, *example: torch.Tensor) -> list[str]:
    """Every rank > 4 value and every in-place op in ``module`` run on ``example``. A module
    fx cannot trace (an item assignment ``x[i] = y`` among others) is one violation."""
    try:
        gm = fx.symbolic_trace(module)
    except Exception as exc:  # fx raises TypeError, TraceError, ... naming the construct
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "item assignment" in reason:
            reason = f"in-place item assignment x[...] = y ({reason})"
        return [f"{type(module).__name__}.forward: cannot be traced: {reason}"]
    with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
        ShapeProp(gm).propagate(*example)
    found = []
    for n in gm.graph.nodes:
        meta = n.meta.get("tensor_meta")
        ranks = _ranks(meta) if meta is not None else []
        if any(r > MAX_RANK for r in ranks):
            found.append(f"{n.name} ({n.op} {_target(n)}): rank {max(ranks)} > {MAX_RANK}")
        if _inplace(n, gm):
            found.append(f"{n.name} ({n.op} {_target(n)}): in-place op")
    return found


def _target(n: fx.Node) -> str:
    return n.target if isinstance(n.target, str) else getattr(n.target, "__name__", str(n.target))


def check_module(module: nn.Module, *example: torch.Tensor) -> None:
    """Raise :class:`EmitError` listing every violation (see :func:`violations`)."""
    found = violations(module, *example)
    if found:
        raise EmitError(
            f"module breaks Lynxi constraints at {len(found)} node(s): {'; '.join(found)}"
        )
