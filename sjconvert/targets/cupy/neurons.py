"""A neuron layer over all T steps: the fused CUDA kernel on CuPy arrays, the same program
run chunk by chunk with NumPy on the CPU."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ...ir import nodes as ir
from ...sim.threads import executor
from .program import NeuronSpec, execute, program, registers

CHUNK = 32768


class NeuronLayer:
    """``(spikes [T, N, ...], V[T-1]) = layer(x, T, static, v0)`` for an IF / LIF node.

    With NumPy the batch is cut into chunks of at most ``CHUNK`` elements, each running all
    T steps before the next (its membrane stays in cache), chunks in parallel threads. With
    CuPy one kernel launch runs all T steps of the whole layer.
    """

    def __init__(self, node: ir.IF | ir.LIF, xp: Any, dtype: np.dtype) -> None:
        self.xp, self.dtype = xp, np.dtype(dtype)
        self.spec = NeuronSpec.of(node)
        self.ops = program(self.spec)
        self.consts: dict[str, Any] = {
            k: self.dtype.type(v) for k, v in self.spec.constants().items()
        }
        self.threshold = np.asarray(node.v_threshold, dtype=self.dtype)
        self.v_init = np.asarray(node.v_init, dtype=self.dtype)
        self.fused = xp is not np

    def _channels(self, value: np.ndarray, ndim: int) -> Any:
        """A scalar, or a per-channel array as ``[C, 1, ...]`` for per-step ``ndim`` dims."""
        if value.ndim == 0:
            return value[()]
        return self.xp.asarray(value.reshape(-1, *([1] * (ndim - 2))))

    def __call__(self, x: Any, T: int, static: bool, v0: Any = None) -> tuple[Any, Any]:
        xp = self.xp
        shape = tuple(x.shape if static else x.shape[1:])
        if v0 is not None:
            v = v0.copy()
        else:
            v = xp.empty(shape, dtype=self.dtype)
            v[...] = self._channels(self.v_init, len(shape))
        x = xp.ascontiguousarray(x, dtype=self.dtype)
        if self.fused:
            return self._kernel(x, v, T, static, shape), v
        out = xp.empty((T, *shape), dtype=self.dtype)
        consts = dict(self.consts)
        if self.spec.threshold is None:
            consts["TH"] = self._channels(self.threshold, len(shape))
        per_sample = math.prod(shape[1:])
        step = max(1, CHUNK // max(1, per_sample))
        starts = list(range(0, shape[0], step))
        temps = registers(self.ops)

        def run(group: list[int]) -> None:
            for i in group:
                sl = slice(i, i + step)
                regs = {"v": v[sl], **{r: xp.empty_like(v[sl]) for r in temps}}
                for t in range(T):
                    regs["x"] = x[sl] if static else x[t, sl]
                    regs["s"] = out[t, sl]
                    execute(self.ops, regs, consts, xp)

        workers = min(torch.get_num_threads(), len(starts))
        if workers <= 1:
            run(starts)
        else:  # NumPy ufuncs release the GIL: chunks run in parallel threads
            list(executor(workers).map(run, [starts[k::workers] for k in range(workers)]))
        return out, v

    def _kernel(self, x: Any, v: Any, T: int, static: bool, shape: tuple[int, ...]) -> Any:
        from .device import launch

        xp = self.xp
        n = math.prod(shape)
        flat_v = v.reshape(-1)
        flat_x = x.reshape(-1) if static else x.reshape(T, -1)
        pad = n % 2 if self.dtype == np.float16 else 0  # half2 lanes come in pairs
        if pad:
            flat_v = xp.concatenate([flat_v, xp.zeros(1, self.dtype)])
            widths = ((0, 1),) if static else ((0, 0), (0, 1))
            flat_x = xp.pad(flat_x, widths)
        th = xp.asarray(self.threshold.reshape(-1))
        inner = math.prod(shape[2:])
        s = launch(self.spec, flat_x, flat_v, th, T, static, inner, max(1, th.size))
        if pad:
            v[...] = flat_v[:n].reshape(shape)
            s = s[:, :n]
        return s.reshape(T, *shape)
