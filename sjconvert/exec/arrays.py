"""Array modules behind one small interface (:class:`Arrays`: torch, NumPy or CuPy), and the
stateful nodes run over them: a step program over all steps of a block, in place.

Speed: on the CPU the batch is cut into chunks of at most ``CHUNK`` elements and each chunk
runs all its steps before the next, so the state stays in cache and each step reads its
input and writes its output once; chunks run in parallel threads (torch ops and NumPy
ufuncs release the GIL). On a GPU one chunk: whole-array steps (the CuPy target replaces
this with one fused kernel per layer).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..ir import nodes as ir
from ..ops import StepProgram, channel_view, compile_inplace, step_program
from .threads import executor

CHUNK = 32768


class Arrays:
    """``torch`` on a device with a dtype, or ``numpy`` / ``cupy`` with a dtype."""

    def __init__(self, xp: Any, dtype: Any, device: Any = None) -> None:
        self.xp, self.dtype, self.device = xp, dtype, device
        self.torch = xp is torch

    @property
    def gpu(self) -> bool:
        if self.torch:
            return torch.device(self.device or "cpu").type == "cuda"
        return self.xp is not np

    def empty(self, shape: tuple[int, ...]) -> Any:
        if self.torch:
            return torch.empty(shape, dtype=self.dtype, device=self.device)
        return self.xp.empty(shape, dtype=self.dtype)

    def asarray(self, value: Any) -> Any:
        arr = np.asarray(value, dtype=np.float32)
        if self.torch:
            return torch.tensor(arr, dtype=self.dtype, device=self.device)
        return self.xp.asarray(arr.astype(self.dtype))

    def constant(self, value: Any, rank: int) -> Any:
        """A scalar constant, or a per-channel array shaped for axis 1 of a rank-``rank`` batch."""
        arr = channel_view(value, rank)
        if arr.ndim == 0:
            return float(arr) if self.torch else np.dtype(self.dtype).type(arr)
        return self.asarray(arr)

    def full(self, shape: tuple[int, ...], value: Any) -> Any:
        out = self.empty(shape)
        out[...] = self.constant(value, len(shape))
        return out

    def copy(self, a: Any) -> Any:
        return a.clone() if self.torch else a.copy()

    def contiguous(self, a: Any) -> Any:
        return a.contiguous() if self.torch else self.xp.ascontiguousarray(a, dtype=self.dtype)


class Stateful:
    """``(y [T, N, ...], state) = layer(x, T, static, state)`` for a node with a step
    program; ``x`` is ``[N, ...]`` (``static``: the same every step) or ``[T, N, ...]``."""

    def __init__(self, node: ir.Node, arrays: Arrays) -> None:
        self.node, self.arrays = node, arrays
        self.program: StepProgram = step_program(node)
        self.step = compile_inplace(self.program, arrays.xp)

    def initial(self, shape: tuple[int, ...]) -> dict[str, Any]:
        """The state before step 0 for a batch of per-step shape ``shape`` (``[N, ...]``)."""
        return {r: self.arrays.full(shape, self.program.init[r]) for r in self.program.state}

    def __call__(
        self, x: Any, T: int, static: bool, state: dict[str, Any] | None
    ) -> tuple[Any, dict[str, Any]]:
        a = self.arrays
        shape = tuple(x.shape if static else x.shape[1:])
        state = self.initial(shape) if state is None else {k: a.copy(v) for k, v in state.items()}
        x = a.contiguous(x)
        consts = self.program.constants(
            lambda v: a.constant(v, len(shape)), lambda v: a.constant(v, len(shape))
        )
        out = a.empty((T, *shape))
        step = shape[0] if a.gpu else max(1, CHUNK // max(1, math.prod(shape[1:])))
        starts = list(range(0, shape[0], step))

        def run(group: list[int]) -> None:
            for i in group:
                self._chunk(slice(i, i + step), x, static, T, state, consts, out)

        workers = 1 if a.gpu else min(torch.get_num_threads(), len(starts))
        if workers <= 1:
            run(starts)
        else:
            list(executor(workers).map(run, [starts[k::workers] for k in range(workers)]))
        return out, state

    def _chunk(
        self,
        sl: slice,
        x: Any,
        static: bool,
        T: int,
        state: dict[str, Any],
        consts: dict[str, Any],
        out: Any,
    ) -> None:
        prog, a = self.program, self.arrays
        regs = {k: v[sl] for k, v in state.items()}
        shape = tuple(x[sl].shape if static else x[0, sl].shape)
        regs.update((r, a.empty(shape)) for r in prog.temps)
        kept = prog.output in state  # the output is a state register (a leaky integrator)
        for t in range(T):
            regs["x"] = x[sl] if static else x[t, sl]
            if not kept:
                regs[prog.output] = out[t, sl]
            self.step(regs, consts)
            if kept:
                out[t, sl] = regs[prog.output]


def stateful(node: ir.Node, arrays: Arrays) -> Stateful:
    """The runner of a stateful node over ``arrays``: its step program, in place."""
    return Stateful(node, arrays)


def run_node(
    node: ir.Node, x: Any, T: int, static: bool, state: Any = None, arrays: Arrays | None = None
) -> tuple[Any, Any]:
    """Run ``T`` steps of one stateful ``node`` on ``x`` (``[N, ...]`` when ``static``, else
    ``[T, N, ...]``), continuing from ``state``: ``(outputs [T, N, ...], new state)``. Torch
    tensors by default."""
    arrays = arrays or Arrays(torch, x.dtype, getattr(x, "device", None))
    return stateful(node, arrays)(x, T, static, state)
