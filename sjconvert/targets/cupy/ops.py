"""Emitters of the ``cupy`` target, one per IR node class in :data:`REGISTRY`.

Every node runs as the simulator over arrays runs it (:mod:`sjconvert.exec.arraysim`), from
the one definition of its op in :mod:`sjconvert.ops`: a stateless op through its torch
kernel on the arrays' own memory (DLPack, no copy: CPU memory for NumPy, CUDA memory for
CuPy), a stateful node by its step program. On CuPy a stateful layer runs as one fused
kernel generated from that program (:mod:`.fused`, :mod:`.kernels`); every other emitter
returns None (the executor's default). Nothing here restates an op.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...exec.arrays import Arrays
from ...exec.schedule import runnable
from ...ir import nodes as ir
from ...ops import PROGRAMS
from ..registry import Registry
from .fused import FusedStateful


@dataclass(frozen=True)
class Context:
    """What every emitter needs: the arrays (module and dtype)."""

    arrays: Arrays

    @property
    def xp(self) -> Any:
        return self.arrays.xp


REGISTRY: Registry[Context, Any] = Registry("cupy")


def _stateful(name: str, node: ir.Node, ctx: Context) -> FusedStateful | None:
    """On CuPy one fused kernel per layer; with NumPy the step program runs chunk by chunk."""
    return FusedStateful(node, ctx.arrays) if ctx.xp is not np else None


def _default(name: str, node: ir.Node, ctx: Context) -> None:
    """Run as the array simulator runs it: by the schedule itself (inputs, adds, readouts)
    or through the shared torch kernel."""


REGISTRY.add(PROGRAMS, _stateful)
REGISTRY.add([c for c in runnable() if c not in PROGRAMS], _default)
