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
from ..ops import StepProgram, channel_view, compile_inplace, events, step_program
from . import fused
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
        const = self.constant(value, len(shape))
        if self.torch and isinstance(const, float):  # a scalar: one fill, no broadcast copy
            return torch.full(shape, const, dtype=self.dtype, device=self.device)
        out = self.empty(shape)
        out[...] = const
        return out

    def copy(self, a: Any) -> Any:
        return a.clone() if self.torch else a.copy()

    def contiguous(self, a: Any) -> Any:
        return a.contiguous() if self.torch else self.xp.ascontiguousarray(a, dtype=self.dtype)


class Stateful:
    """``(y [T, N, ...], state) = layer(x, T, static, state)`` for a node with a step
    program; ``x`` is ``[N, ...]`` (``static``: the same every step) or ``[T, N, ...]``.
    ``own_state``: the caller hands its state over (the schedule does), so it is updated in
    place instead of copied. ``program``: run in place of the node's own (a chain ending in
    ``node``, :mod:`.chains`)."""

    def __init__(
        self,
        node: ir.Node,
        arrays: Arrays,
        own_state: bool = False,
        program: StepProgram | None = None,
    ) -> None:
        self.node, self.arrays, self.own_state = node, arrays, own_state
        self.program: StepProgram = program or step_program(node)
        self.step = compile_inplace(self.program, arrays.xp)
        host32 = not arrays.gpu and arrays.dtype in (torch.float32, np.float32, np.dtype("f4"))
        self.fused = fused.kernel(self.program) if host32 else None

    def initial(self, shape: tuple[int, ...]) -> dict[str, Any]:
        """The state before step 0 for a batch of per-step shape ``shape`` (``[N, ...]``)."""
        return {r: self.arrays.full(shape, self.program.init[r]) for r in self.program.state}

    def __call__(
        self, x: Any, T: int, static: bool, state: dict[str, Any] | None
    ) -> tuple[Any, dict[str, Any]]:
        y, state, _ = self.counted(x, T, static, state, None, count=False)
        return y, state

    def counted(
        self,
        x: Any,
        T: int,
        static: bool,
        state: dict[str, Any] | None,
        fanout: Any,
        count: bool = True,
    ) -> tuple[Any, dict[str, Any], Any]:
        """:meth:`__call__` and, with ``count`` (a spiking node), the events and synaptic
        operations ``[T, N]`` of its outputs (``fanout``: one per element, or None) as
        :func:`~sjconvert.ops.events` counts them: by the fused kernel as it steps, or
        from the outputs."""
        a = self.arrays
        shape = tuple(x.shape if static else x.shape[1:])
        if state is None:
            state = self.initial(shape)
        elif not self.own_state:
            state = {k: a.copy(v) for k, v in state.items()}
        x = a.contiguous(x)
        if self.fused is not None:
            return self._fused(x, T, static, state, shape, fanout if count else False)
        y = self._programmed(x, T, static, state, shape)
        if not count:
            return y, state, None
        features, signed = math.prod(shape[1:]), self.node.signed
        if fanout is None:
            return y, state, (events(y, T, features, signed=signed), None)
        return y, state, events(y, T, features, fanout.reshape(-1), signed)

    def _programmed(self, x: Any, T: int, static: bool, state: Any, shape: Any) -> Any:
        """All ``T`` steps op by op, chunk by chunk (chunks in the thread pool)."""
        a = self.arrays
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
        return out

    def _fused(self, x: Any, T: int, static: bool, state: Any, shape: Any, fanout: Any) -> Any:
        """All ``T`` steps in the compiled kernel (:mod:`.fused`), tile by tile; a spiking
        program counts as it steps (``fanout`` False: not asked)."""
        prog, a = self.program, self.arrays
        out = a.empty((T, *shape))
        n, features = shape[0], math.prod(shape[1:])
        keep = [_spread(prog.channels[k], shape) for k in sorted(prog.channels)]
        counts = None
        if prog.spiking:
            fan = np.zeros(features, np.float32) if fanout is None or fanout is False else fanout
            fan = np.ascontiguousarray(np.asarray(fan, np.float32).reshape(-1))
            cells = (T, n, fused.pieces(features))
            made = [_zeros64(a, cells), _zeros64(a, cells)]
            keep += [fan, *made]
            counts = tuple(_address(c) for c in (fan, *made))
        layer = fused.Layer(
            _address(x),
            _address(out),
            [_address(state[r]) for r in prog.state],
            [_address(c) for c in keep[: len(prog.channels)]],
            n,
            features,
            T,
            static,
            counts,
        )
        workers = min(torch.get_num_threads(), n * features // fused.TILE + 1)
        fused.launch(self.fused, layer, executor(workers) if workers > 1 else None)
        if counts is None or fanout is False:
            return out, state, None
        ev, syn = (c.sum(2) for c in keep[-2:])
        return out, state, (ev, None if fanout is None else syn)

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


def _address(a: Any) -> int:
    """The address of a contiguous torch tensor's or NumPy array's first element."""
    return a.data_ptr() if isinstance(a, torch.Tensor) else a.ctypes.data


def _zeros64(a: Arrays, shape: tuple[int, ...]) -> Any:
    """A float64 array of zeros of ``a``'s module (counts)."""
    return torch.zeros(shape, dtype=torch.float64) if a.torch else np.zeros(shape, np.float64)


def _spread(value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A per-channel constant spread over one sample's features ``[prod(shape[1:])]``."""
    per_sample = np.broadcast_to(channel_view(value, len(shape)), shape[1:])
    return np.ascontiguousarray(per_sample, dtype=np.float32).reshape(-1)


def stateful(node: ir.Node, arrays: Arrays, program: StepProgram | None = None) -> Stateful:
    """The runner of a stateful node (or of ``program``, a chain ending in it) over
    ``arrays`` for an executor that owns the state it passes (updated in place, not
    copied)."""
    return Stateful(node, arrays, own_state=True, program=program)


def run_node(
    node: ir.Node, x: Any, T: int, static: bool, state: Any = None, arrays: Arrays | None = None
) -> tuple[Any, Any]:
    """Run ``T`` steps of one stateful ``node`` on ``x`` (``[N, ...]`` when ``static``, else
    ``[T, N, ...]``), continuing from ``state``: ``(outputs [T, N, ...], new state)``. Torch
    tensors by default."""
    arrays = arrays or Arrays(torch, x.dtype, getattr(x, "device", None))
    return Stateful(node, arrays)(x, T, static, state)
