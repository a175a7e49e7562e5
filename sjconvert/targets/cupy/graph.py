"""The simulation graph: the whole converted network over arrays of one array module.

:func:`to_cupy` checks the graph against the ``cupy`` target, builds one function per node
(see :mod:`.ops`) and returns a :class:`SimGraph` whose schedule is the reference
simulator's (:class:`sjconvert.sim.reference.Program`): static values (direct input) are
computed once, temporal values ``[T, N, ...]`` are folded into the batch for stateless ops,
neuron layers run all steps of a time block in one call (one kernel on the GPU), time runs
in the same blocks, and the outputs are running means per step. With NumPy and torch
synapses it reproduces the reference bit for bit in float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...errors import InputError
from ...ir import nodes as ir
from ...ir.graph import Graph
from ...sim.reference import (
    BLOCK_ELEMENTS,
    SimResult,
    folded_scales,
    time_block,
    time_blocks,
)
from ..registry import check, emitter
from .device import array_module
from .neurons import NeuronLayer
from .ops import TARGET, Context

Value = tuple[Any, bool]  # (array, temporal)
GPU_BLOCK_ELEMENTS = 1 << 29  # 2 GiB per float32 temporal tensor


@dataclass
class ArrayResult:
    """Per-step running means ``[T, N, ...]`` per output (arrays of the graph's module) and
    spike counts per neuron layer."""

    outputs: dict[str, Any]
    spikes: dict[str, int]


def _fma(a: Any, b: Any, alpha: float, xp: Any) -> Any:
    """``a + alpha·b`` rounded once, as torch's ``add(a, b, alpha)`` computes it on the CPU
    (a fused multiply-add): the product of two float32 is exact in float64."""
    if alpha == 1.0:
        return a + b
    wide = a.astype(xp.float64) + xp.float64(np.float32(alpha)) * b.astype(xp.float64)
    return wide.astype(a.dtype)


class SimGraph:
    """A graph prepared for repeated runs with ``xp`` (``numpy`` or ``cupy``)."""

    def __init__(
        self, graph: Graph, backend: str = "numpy", dtype: str = "float32", synapses: str = "auto"
    ) -> None:
        check(graph, TARGET)
        if dtype not in ("float32", "float16"):
            raise InputError(f"dtype must be float32 or float16, got {dtype!r}")
        self.xp = array_module(backend)
        if synapses == "auto":
            synapses = "torch" if self.xp is np or torch.cuda.is_available() else "native"
        if synapses not in ("torch", "native"):
            raise InputError(f"synapses must be torch, native or auto, got {synapses!r}")
        self.graph, self.dtype, self.synapses = graph, np.dtype(dtype), synapses
        ctx = Context(self.xp, self.dtype, synapses)
        self.fns = {name: emitter(graph, name, TARGET)(name, node, ctx) for name, node in graph}
        self._into_add = folded_scales(graph)

    def block(self, n: int) -> int:
        """Steps per time block for batch ``n``: the reference's on the CPU (so the same
        folded batch shapes give the same torch results); on the GPU blocks hold up to
        ``GPU_BLOCK_ELEMENTS`` values per tensor, so one kernel launch covers many steps."""
        return time_block(self.graph, n, BLOCK_ELEMENTS if self.xp is np else GPU_BLOCK_ELEMENTS)

    def neuron_layers(self) -> dict[str, NeuronLayer]:
        return {n: f for n, f in self.fns.items() if isinstance(f, NeuronLayer)}

    def _inputs(self, xs: tuple[Any, ...], lead: int) -> list[Any]:
        if len(xs) != len(self.graph.inputs):
            raise InputError(f"graph has {len(self.graph.inputs)} inputs, got {len(xs)} arrays")
        out = []
        for name, x in zip(self.graph.inputs, xs, strict=True):
            x = self.xp.array(x.numpy() if isinstance(x, torch.Tensor) else x, self.dtype)
            want = tuple(self.graph.nodes[name].shape)  # type: ignore[attr-defined]
            if tuple(x.shape[lead:]) != want or x.ndim != len(want) + lead:
                raise InputError(f"input '{name}': expected [.., {want}], got {list(x.shape)}")
            out.append(x)
        return out

    def run(
        self, *xs: Any, T: int, sequence: bool = False, block: int | None = None
    ) -> ArrayResult:
        """Simulate ``T`` steps; inputs ``[N, ...]`` (direct input) or ``[T, N, ...]``
        with ``sequence=True``. ``block``: steps per time block (default: the reference's)."""
        if T < 1:
            raise InputError(f"T must be >= 1, got {T}")
        xp, xs_ = self.xp, self._inputs(xs, 2 if sequence else 1)
        tb = block or self.block(xs_[0].shape[1 if sequence else 0])
        state: dict[str, Any] = {}
        spikes: dict[str, int] = {}
        carry: dict[str, Any] = dict.fromkeys(self.graph.outputs, 0.0)
        pieces: dict[str, list[Any]] = {o: [] for o in self.graph.outputs}

        def node_fn(name: str, node: ir.Node, values: dict[str, Value], n_t: int) -> Value:
            return self._node(name, node, values, n_t, state, spikes)

        for t0, n_t, values in time_blocks(self.graph, xs_, T, tb, sequence, node_fn):
            steps = xp.arange(t0 + 1, t0 + n_t + 1, dtype=self.dtype)
            for o in self.graph.outputs:
                y, temporal = values[o]
                if not temporal:
                    pieces[o].append(xp.broadcast_to(y, (n_t, *y.shape)))
                    continue
                total = xp.cumsum(y, axis=0, dtype=xp.float64).astype(self.dtype) + carry[o]
                carry[o] = total[-1]
                pieces[o].append(total / steps.reshape(-1, *([1] * (y.ndim - 1))))
        return ArrayResult({o: xp.concatenate(p) for o, p in pieces.items()}, spikes)

    def snn(self, *xs: Any, T: int, sequence: bool = False, block: int | None = None) -> SimResult:
        """:meth:`run` with the outputs as CPU torch tensors: a drop-in for the reference
        :meth:`~sjconvert.sim.reference.Program.snn`."""
        res = self.run(*xs, T=T, sequence=sequence, block=block)
        host = {o: torch.from_numpy(np.asarray(self._host(y))) for o, y in res.outputs.items()}
        return SimResult(host, {k: float(v) for k, v in res.spikes.items()})

    def _fold(self, x: Any, temporal: bool, T: int) -> Any:
        """``[T·N, ...]`` from a temporal ``[T, N, ...]`` or a static ``[N, ...]`` value."""
        if temporal:
            return x.reshape(-1, *x.shape[2:])
        return self.xp.broadcast_to(x, (T, *x.shape)).reshape(-1, *x.shape[1:])

    def _host(self, y: Any) -> np.ndarray:
        return y if self.xp is np else self.xp.asnumpy(y)

    def _node(
        self,
        name: str,
        node: ir.Node,
        values: dict[str, Value],
        T: int,
        state: dict[str, Any],
        spikes: dict[str, int],
    ) -> Value:
        ins = self.graph.edges[name]
        if name in self._into_add or isinstance(node, ir.Readout):
            return values[ins[0]]  # the Add applies the scale; readouts integrate at the end
        if isinstance(node, ir.Add):
            first, *rest = ins
            f = self._into_add.get(first, 1.0)
            out = values[first][0] * self.dtype.type(f) if f != 1.0 else values[first][0]
            for src in rest:
                out = _fma(out, values[src][0], self._into_add.get(src, 1.0), self.xp)
            return out, any(values[s][1] for s in ins)
        args = [values[s] for s in ins]
        if isinstance(node, (ir.IF, ir.LIF)):
            x, temporal = args[0]
            s, state[name] = self.fns[name](x, T, static=not temporal, v0=state.get(name))
            spikes[name] = spikes.get(name, 0) + int(self.xp.count_nonzero(s))
            return s, True
        if not any(t for _, t in args):
            return self.fns[name]([x for x, _ in args]), False
        y = self.fns[name]([self._fold(x, t, T) for x, t in args])
        return y.reshape(T, -1, *y.shape[1:]), True


def to_cupy(
    graph: Graph, backend: str = "cupy", dtype: str = "float32", synapses: str = "auto"
) -> SimGraph:
    """The simulation graph of ``graph``: on the GPU with ``backend="cupy"`` (fused neuron
    kernels, synapses in torch via DLPack or in CuPy), or the same graph with NumPy on the
    CPU (``backend="numpy"``). Raises :class:`InputError` when CuPy or a device is missing and
    :class:`UnsupportedOpError` listing every node the target cannot run."""
    return SimGraph(graph, backend, dtype, synapses)
