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

from ...exec.arrays import Arrays
from ...exec.schedule import runnable
from ...ir import nodes as ir
from ...ops import PROGRAMS
from ..registry import Registry
from .device import launch
from .fused import FusedStateful, Launch


@dataclass(frozen=True)
class Context:
    """What every emitter needs: the arrays (module and dtype) and, where stateful layers
    run as fused kernels (CuPy), how a kernel is launched (None: the step program runs over
    the arrays chunk by chunk, as with NumPy)."""

    arrays: Arrays
    launch: Launch | None = launch

    @property
    def xp(self) -> Any:
        return self.arrays.xp


REGISTRY: Registry[Context, Any] = Registry("cupy")


def _stateful(name: str, node: ir.Node, ctx: Context) -> FusedStateful | None:
    """One fused kernel per layer where kernels are launched, else the step program."""
    return None if ctx.launch is None else FusedStateful(node, ctx.arrays, ctx.launch)


def _default(name: str, node: ir.Node, ctx: Context) -> None:
    """Run as the array simulator runs it: by the schedule itself (inputs, adds, readouts)
    or through the shared torch kernel."""


REGISTRY.add(PROGRAMS, _stateful)
REGISTRY.add([c for c in runnable() if c not in PROGRAMS], _default)
