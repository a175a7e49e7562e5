"""A stateful layer as one fused CUDA kernel launch over all steps of a block (CuPy)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ...exec.arrays import Arrays
from ...ir import nodes as ir
from ...ops import StepProgram, step_program

#: ``launch(program, x, y, state, channels, static, inner, n_channels)`` writes ``y``
#: (:func:`.device.launch` on a GPU; a test may launch the same source on the host)
Launch = Callable[..., Any]


class FusedStateful:
    """``(y [T, N, ...], state) = layer(x, T, static, state)`` on CuPy arrays: the node's
    step program compiled into one kernel (see :mod:`.kernels`) started by ``launch``."""

    def __init__(self, node: ir.Node, arrays: Arrays, launch: Launch) -> None:
        self.arrays, self.launch = arrays, launch
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
        y = xp.empty((T, n + pad), dtype=self.dtype)
        regs = [flat[r] for r in prog.state]
        self.launch(prog, xs, y, regs, chans, static, math.prod(shape[2:]), width)
        if pad:
            y = y[:, :n]
        new = {r: flat[r][:n].reshape(shape) for r in prog.state}
        return y.reshape(T, *shape), new
