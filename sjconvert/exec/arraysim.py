"""The simulator over NumPy (CPU) or CuPy (GPU) arrays: the schedule of :mod:`.schedule`
with values of one array module.

Stateless ops run the torch kernels of :mod:`sjconvert.ops.kernels` on the same memory
(DLPack, no copies), so with NumPy it computes exactly what the reference computes and
float32 spikes are bit-identical; stateful nodes run their step program with the array
module itself. The CuPy target (:mod:`sjconvert.targets.cupy`) plugs in fused CUDA kernels
and CuPy-native synapses through the ``stateful`` / ``stateless`` hooks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..errors import InputError
from ..ir import nodes as ir
from ..ir.graph import Graph
from ..ops import entry, prepare
from .arrays import Arrays, stateful
from .data_layout import is_sequence
from .reference import SimResult
from .schedule import BLOCK_ELEMENTS, Backend, Schedule, Tally, check_inputs, time_block
from .shapes import with_shapes

Hook = Callable[[str, ir.Node, Arrays], Any]


@dataclass
class ArrayResult:
    """Per-step running means ``[T, N, ...]`` per output (arrays of the graph's module) and
    per neuron layer the spikes and the synaptic operations per step and sample ``[T, N]``."""

    outputs: dict[str, Any]
    tally: Tally


def via_torch(graph: Graph, name: str, node: ir.Node, arrays: Arrays) -> Callable[[list[Any]], Any]:
    """The torch kernel of ``node`` run on the arrays' memory (CPU or CUDA) by DLPack."""
    found = entry(node)
    if found is None:
        raise InputError(f"no kernel for {node.op} at '{name}'")
    xp = arrays.xp
    device = "cpu" if xp is np else "cuda"
    shapes = [graph.shapes[s] for s in graph.edges[name]]
    p = prepare(node, shapes, getattr(torch, np.dtype(arrays.dtype).name), device)

    def run(xs: list[Any]) -> Any:
        args = [torch.from_dlpack(_exportable(xp, x)) for x in xs]
        if device == "cpu":
            return xp.from_dlpack(found.fn(p, args))
        cudnn = torch.backends.cudnn  # float32 convolutions, not TF32 (torch's default)
        keep = {"enabled": cudnn.enabled, "benchmark": cudnn.benchmark}
        with cudnn.flags(**keep, deterministic=cudnn.deterministic, allow_tf32=False):
            return xp.from_dlpack(found.fn(p, args))

    return run


def _exportable(xp: Any, x: Any) -> Any:
    """A contiguous array DLPack can export: NumPy before 2.0 marks the arrays it imports
    by DLPack read-only, and torch refuses to import a read-only array, so copy those."""
    x = xp.ascontiguousarray(x)
    flags = getattr(x, "flags", None)
    return x.copy() if flags is not None and not flags.writeable else x


class ArrayBackend(Backend):
    """Arrays of ``xp``; temporal values ``[T, N, ...]``."""

    def __init__(
        self, graph: Graph, arrays: Arrays, stateless: Hook | None, stateful_hook: Hook | None
    ) -> None:
        self.graph, self.arrays = graph, arrays
        self.xp, self.dtype = arrays.xp, np.dtype(arrays.dtype)
        self.hooks = (stateless, stateful_hook)

    def stateless(self, name: str, node: ir.Node) -> Callable[[list[Any]], Any]:
        own = self.hooks[0] and self.hooks[0](name, node, self.arrays)
        return own or via_torch(self.graph, name, node, self.arrays)

    def stateful(self, name: str, node: ir.Node) -> Any:
        own = self.hooks[1] and self.hooks[1](name, node, self.arrays)
        return own or stateful(node, self.arrays)

    def fold(self, x: Any, temporal: bool, steps: int, rank: int) -> Any:
        if temporal:
            return x.reshape(-1, *x.shape[2:])
        return self.xp.broadcast_to(x, (steps, *x.shape)).reshape(-1, *x.shape[1:])

    def unfold(self, y: Any, steps: int) -> Any:
        return y.reshape(steps, -1, *y.shape[1:])

    def scaled(self, x: Any, alpha: float) -> Any:
        return x * self.dtype.type(alpha) if alpha != 1.0 else x

    def axpy(self, a: Any, b: Any, alpha: float) -> Any:
        """``a + alpha·b`` rounded once, as torch's ``add(a, b, alpha)`` computes it on the
        CPU (a fused multiply-add): the product of two float32 is exact in float64."""
        if alpha == 1.0:
            return a + b
        xp = self.xp
        wide = a.astype(xp.float64) + xp.float64(np.float32(alpha)) * b.astype(xp.float64)
        return wide.astype(a.dtype)

    def count(self, s: Any, steps: int, weight: Any = None) -> Any:
        a = self.xp.abs(s) if weight is None else self.xp.abs(s) * weight
        return a.reshape(steps, s.shape[1], -1).sum(2, dtype=self.xp.float64)

    def weights(self, arr: Any) -> Any:
        return self.xp.asarray(np.asarray(arr), dtype=self.dtype)

    def running_mean(
        self, y: Any, temporal: bool, t0: int, steps: int, carry: Any
    ) -> tuple[Any, Any]:
        xp = self.xp
        if not temporal:
            return xp.broadcast_to(y, (steps, *y.shape)), carry
        total = xp.cumsum(y, axis=0, dtype=xp.float64).astype(self.dtype)
        if carry is not None:
            total = total + carry
        div = xp.arange(t0 + 1, t0 + steps + 1, dtype=self.dtype)
        return total / div.reshape(-1, *([1] * (y.ndim - 1))), total[-1]

    def concat_time(self, pieces: list[Any]) -> Any:
        return self.xp.concatenate(pieces)


class ArraySimulator:
    """A graph prepared for repeated runs over arrays of ``xp`` (``numpy`` or ``cupy``)."""

    def __init__(
        self,
        graph: Graph,
        xp: Any = np,
        dtype: str = "float32",
        stateless: Hook | None = None,
        stateful: Hook | None = None,
        block_elements: int = BLOCK_ELEMENTS,
    ) -> None:
        self.graph = with_shapes(graph)
        self.xp, self.dtype, self.block_elements = xp, np.dtype(dtype), block_elements
        self.backend = ArrayBackend(self.graph, Arrays(xp, self.dtype), stateless, stateful)
        self.schedule = Schedule(self.graph, self.backend, cost=True)

    def block(self, n: int) -> int:
        """Steps per time block for batch ``n``."""
        return time_block(self.graph, n, self.block_elements)

    def run_arrays(
        self, *xs: Any, T: int, sequence: bool | None = None, block: int | None = None
    ) -> ArrayResult:
        """Simulate ``T`` steps; inputs ``[N, ...]`` (direct input) or ``[T, N, ...]`` for a
        sequence input. ``block``: steps per time block."""
        if T < 1:
            raise InputError(f"T must be >= 1, got {T}")
        seq = is_sequence(self.graph) if sequence is None else sequence
        arrays = [x.numpy() if isinstance(x, torch.Tensor) else x for x in xs]
        check_inputs(self.graph, arrays, 2 if seq else 1)
        xs_ = [self.xp.asarray(np.asarray(x), dtype=self.dtype) for x in arrays]
        tb = block or self.block(xs_[0].shape[1 if seq else 0])
        outputs, tally = self.schedule.run(xs_, T, seq, tb)
        return ArrayResult(outputs, tally)

    def run(
        self, *xs: Any, T: int, sequence: bool | None = None, block: int | None = None
    ) -> SimResult:
        """:meth:`run_arrays` with CPU torch tensors: a drop-in for the reference's run."""
        res = self.run_arrays(*xs, T=T, sequence=sequence, block=block)
        host = self._host
        tally = Tally(
            {k: torch.from_numpy(host(v)) for k, v in res.tally.spikes.items()},
            {k: torch.from_numpy(host(v)) for k, v in res.tally.synops.items()},
        )
        return SimResult.of({o: torch.from_numpy(host(y)) for o, y in res.outputs.items()}, tally)

    def _host(self, y: Any) -> np.ndarray:
        return np.ascontiguousarray(y if self.xp is np else self.xp.asnumpy(y))
