"""The simulator over NumPy (CPU) or CuPy (GPU) arrays: the schedule of :mod:`.schedule`
with values of one array module.

Stateless ops run the torch kernels of :mod:`sjconvert.ops.kernels` on the same memory
(DLPack, no copies), so with NumPy it computes exactly what the reference computes and
float32 spikes are bit-identical; stateful nodes run their step program with the array
module itself. The CuPy target (:mod:`sjconvert.targets.cupy`) plugs in fused CUDA kernels
and CuPy-native synapses through the ``stateful`` / ``stateless`` hooks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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
from .memory import check_memory
from .plan import BLOCK_ELEMENTS, plan, run_chunked, time_block
from .reference import SimResult
from .schedule import Backend, Schedule, Tally, check_inputs
from .shapes import with_shapes

Hook = Callable[[str, ir.Node, Arrays], Any]


@dataclass
class ArrayResult:
    """The running means ``[K, N, ...]`` per output after each kept step (arrays of the
    graph's module) and the events of every neuron layer (:class:`~.schedule.Tally`)."""

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

    def program(self, name: str, node: ir.Node, program: Any) -> Any:
        """On the CPU a chain runs as one program; on a GPU each member runs its own
        kernel (the CuPy target's fused kernels are per node)."""
        return None if self.arrays.gpu else stateful(node, self.arrays, program)

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

    def weights(self, arr: Any) -> Any:
        return self.xp.asarray(np.asarray(arr), dtype=self.dtype)

    def stack(self, pieces: list[Any]) -> Any:
        return self.xp.stack(pieces)

    def concat(self, pieces: list[Any], axis: int) -> Any:
        return self.xp.concatenate(pieces, axis=axis)


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
        max_memory: int | str | None = None,
    ) -> None:
        self.graph = with_shapes(graph)
        self.max_memory = max_memory
        self.xp, self.dtype, self.block_elements = xp, np.dtype(dtype), block_elements
        self.backend = ArrayBackend(self.graph, Arrays(xp, self.dtype), stateless, stateful)
        self.schedule = Schedule(self.graph, self.backend, cost=True)

    def block(self, n: int) -> int:
        """Steps per time block for batch ``n``."""
        return time_block(self.graph, n, self.block_elements)

    def run_arrays(
        self,
        *xs: Any,
        T: int,
        sequence: bool | None = None,
        block: int | None = None,
        observe: Callable[[str, Any, bool], None] | None = None,
        keep: Iterable[int] | None = None,
    ) -> ArrayResult:
        """Simulate ``T`` steps; inputs ``[N, ...]`` (direct input) or ``[T, N, ...]`` for a
        sequence input. ``block``: steps per time block; ``observe`` and ``keep`` as in
        :meth:`~.reference.Simulator.run`."""
        if T < 1:
            raise InputError(f"T must be >= 1, got {T}")
        seq = is_sequence(self.graph) if sequence is None else sequence
        arrays = [x.cpu().numpy() if isinstance(x, torch.Tensor) else x for x in xs]
        check_inputs(self.graph, arrays, 2 if seq else 1)
        own = self.xp.ndarray  # arrays already of this module (CuPy's) stay where they are
        xs_ = [
            self.xp.asarray(x if isinstance(x, own) else np.asarray(x), dtype=self.dtype)
            for x in arrays
        ]
        n = xs_[0].shape[1 if seq else 0]
        if self.xp is np:
            check_memory(self.graph, n, T, keep, self.max_memory)
        if block:
            tb, samples = block, n
        elif self.xp is np:  # the CPU: many steps per block, the batch in chunks
            tb, samples = plan(self.graph, n, self.block_elements)
        else:  # a GPU: the whole batch, as many steps as fit
            tb, samples = self.block(n), n
        outputs, tally = run_chunked(self.schedule, xs_, T, seq, tb, samples, observe, keep)
        return ArrayResult(outputs, tally)

    def run(self, *xs: Any, **options: Any) -> SimResult:
        """:meth:`run_arrays` (same options) with CPU torch tensors: a drop-in for the
        reference's run."""
        res = self.run_arrays(*xs, **options)
        return SimResult.of(res.outputs, res.tally, self._host)

    def _host(self, y: Any) -> torch.Tensor:
        y = y if self.xp is np else self.xp.asnumpy(y)
        return torch.from_numpy(np.ascontiguousarray(y))
