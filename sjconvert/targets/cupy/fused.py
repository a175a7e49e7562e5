"""A stateful layer as one fused CUDA kernel launch over all steps of a block (CuPy)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...exec.arrays import Arrays
from ...ir import nodes as ir
from ...ops import StepProgram, step_program
from .device import launch


class FusedStateful:
    """``(y [T, N, ...], state) = layer(x, T, static, state)`` on CuPy arrays: the node's
    step program compiled into one kernel (see :mod:`.kernels`)."""

    def __init__(self, node: ir.Node, arrays: Arrays) -> None:
        self.arrays = arrays
        self.program: StepProgram = step_program(node)
        self.dtype = np.dtype(arrays.dtype)

    def __call__(self, x: Any, T: int, static: bool, state: dict[str, Any] | None) -> Any:
        xp, prog = self.arrays.xp, self.program
        shape = tuple(x.shape if static else x.shape[1:])
        n = math.prod(shape)
        if state is None:
            state = {r: self.arrays.full(shape, prog.init[r]) for r in prog.state}
        flat = {
            r: xp.ascontiguousarray(v, dtype=self.dtype).reshape(-1).copy()
            for r, v in state.items()
        }
        xs = xp.ascontiguousarray(x, dtype=self.dtype).reshape(-1 if static else (T, -1))
        pad = n % 2 if self.dtype == np.float16 else 0  # half2 lanes come in pairs
        if pad:
            flat = {r: xp.concatenate([v, xp.zeros(1, self.dtype)]) for r, v in flat.items()}
            xs = xp.pad(xs, ((0, 1),) if static else ((0, 0), (0, 1)))
        names = sorted(prog.channels)
        chans = [xp.asarray(prog.channels[k].astype(self.dtype)) for k in names]
        width = max((c.size for c in chans), default=1)
        y = launch(
            prog, xs, [flat[r] for r in prog.state], chans, T, static, math.prod(shape[2:]), width
        )
        if pad:
            y = y[:, :n]
        new = {r: flat[r][:n].reshape(shape) for r in prog.state}
        return y.reshape(T, *shape), new
