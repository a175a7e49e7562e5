"""The graph as one plain torch module (the form Lynxi's compiler takes and torch.onnx
exports): the schedule of :mod:`.schedule` with every value a batch.

Static values are ``[N, ...]``, computed once; temporal values are folded ``[T·N, ...]``:
stateless ops run the shared kernels on them (a static input of a temporal op is
repeated T times) and a stateful node views its input as ``[T, N, F]`` (rank 3), unrolls
its step program over the T steps with no in-place op (:func:`~sjconvert.ops.run_pure`)
and returns ``[T·N, ...]``. Parameters are buffers, so ``.to(dtype)`` and export see them.
Every tensor keeps the rank of a per-step value (at most 4 for the IR's 1-D and 2-D
layers). Float32 spikes are bit-identical to the reference given the same currents.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import InputError
from ..ir import nodes as ir
from ..ir.graph import Graph
from ..ops import entry, prepare, run_pure, running_sum, step_program
from .schedule import Backend, Schedule, Tally, runnable
from .shapes import with_shapes

Override = Callable[[str, ir.Node, "ModuleBackend"], nn.Module | None]


class NodeModule(nn.Module):
    """A stateless op: ``forward(xs)`` applies its kernel with the node's tensors as buffers."""

    def __init__(self, op: str, fn: Callable[..., Any], params: dict[str, Any]) -> None:
        super().__init__()
        self.op, self.fn = op, fn
        self.plain = {k: v for k, v in params.items() if not isinstance(v, torch.Tensor)}
        self.tensors = [k for k, v in params.items() if isinstance(v, torch.Tensor)]
        for k in self.tensors:
            self.register_buffer(k, params[k])

    def extra_repr(self) -> str:
        return self.op

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return self.fn({**self.plain, **{k: getattr(self, k) for k in self.tensors}}, xs)


def per_feature(value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A scalar, or a per-channel (axis 1) array spread over the flattened features."""
    arr = np.asarray(value, np.float32)
    return arr if arr.ndim == 0 else np.repeat(arr, math.prod(shape[1:]))


class StepModule(nn.Module):
    """A stateful node's step program over ``[T, N, F]``, unrolled with no in-place op."""

    def __init__(self, node: ir.Node, shape: tuple[int, ...], dtype: torch.dtype) -> None:
        super().__init__()
        self.program = step_program(node)
        self.shape, self.features = tuple(shape), math.prod(shape)
        self.scalars = dict(self.program.scalars)
        for k, arr in self.program.channels.items():
            self.register_buffer(k, torch.tensor(per_feature(arr, shape), dtype=dtype))
        for r in self.program.state:
            init = torch.tensor(per_feature(self.program.init[r], shape), dtype=dtype)
            self.register_buffer(f"init_{r}", init)

    def initial(self, n: int) -> dict[str, torch.Tensor]:
        """The state before step 0 for a batch of ``n``: ``[n, *shape]`` per register."""
        return {
            r: getattr(self, f"init_{r}").expand(n, self.features).reshape(n, *self.shape)
            for r in self.program.state
        }

    def forward(
        self, x: torch.Tensor, steps: int, static: bool, state: dict[str, torch.Tensor] | None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        f = self.features
        xs = x.reshape(-1, f) if static else x.reshape(steps, -1, f)
        consts = {**self.scalars, **{k: getattr(self, k) for k in self.program.channels}}
        zero = (xs if static else xs[0]) * 0.0  # full-size registers from the start: a
        regs = {  # register may never meet the input (a count)
            r: zero + getattr(self, f"init_{r}") if state is None else state[r].reshape(-1, f)
            for r in self.program.state
        }
        out = []
        for t in range(steps):
            regs["x"] = xs if static else xs[t]
            run_pure(self.program, regs, consts)
            out.append(regs[self.program.output])
        y = torch.cat(out, 0) if steps > 1 else out[0]
        return y.reshape(-1, *self.shape), {
            r: regs[r].reshape(-1, *self.shape) for r in self.program.state
        }


class ModuleBackend(Backend):
    """Folded ``[T·N, ...]`` temporal values; nodes as torch modules (``override``: a
    target's own module for some nodes)."""

    def __init__(
        self, graph: Graph, T: int, dtype: torch.dtype, override: Override | None = None
    ) -> None:
        self.graph, self.T, self.dtype = graph, T, dtype
        self.override = override

    def stateless(self, name: str, node: ir.Node) -> nn.Module:
        own = self.override(name, node, self) if self.override else None
        if own is not None:
            return own
        found = entry(node)
        if found is None:
            raise InputError(f"no kernel for {node.op} at '{name}'")
        shapes = [self.graph.shapes[s] for s in self.graph.edges[name]]
        return NodeModule(node.op, found.fn, prepare(node, shapes, self.dtype))

    def stateful(self, name: str, node: ir.Node) -> nn.Module:
        return StepModule(node, self.graph.shapes[name], self.dtype)

    def fold(self, x: Any, temporal: bool, steps: int, rank: int) -> Any:
        return x if temporal else x.repeat(steps, *([1] * (rank - 1)))

    def unfold(self, y: Any, steps: int) -> Any:
        return y

    def add_terms(self, args: list[Any], steps: int, ranks: list[int]) -> list[Any]:
        if not any(t for _, t in args):
            return [x for x, _ in args]
        return [self.fold(x, t, steps, r) for (x, t), r in zip(args, ranks, strict=True)]

    def axpy(self, a: Any, b: Any, alpha: float) -> Any:
        return torch.add(a, b, alpha=alpha) if alpha != 1.0 else a + b

    def mean(self, y: Any, temporal: bool, shape: tuple[int, ...]) -> Any:
        """The rate after T steps, ``Σ_t Y[t] / T`` (:func:`~sjconvert.ops.running_sum`)."""
        if not temporal:
            return y
        ys = y.reshape(self.T, -1, math.prod(shape))
        _, means = running_sum(None, ys, 0, (self.T,), self.T)
        return means[self.T].reshape(-1, *shape)


def exportable() -> list[type[ir.Node]]:
    """The node classes this executor runs: those the schedule runs."""
    return runnable()


def module_key(i: int, name: str) -> str:
    return f"n{i}_{re.sub(r'[^0-9A-Za-z_]', '_', name)}"


class SpikingNet(nn.Module):
    """The graph run for ``T`` steps. Input ``[N, ...]`` (direct input) or, for a sequence,
    ``[T·N, ...]`` (step-major). Returns the rate ``[N, ...]`` of each graph output and, with
    ``counts``, each neuron layer's spikes per sample ``[N]``: one tensor when that is all
    it returns (as Lynxi's compiler expects), else a tuple."""

    def __init__(
        self,
        graph: Graph,
        T: int,
        dtype: torch.dtype = torch.float32,
        sequence: bool = False,
        counts: bool = False,
        override: Override | None = None,
    ) -> None:
        super().__init__()
        if T < 1:
            raise InputError(f"T must be >= 1, got {T}")
        if len(graph.inputs) != 1:
            raise InputError(f"the graph must have one input, it has {len(graph.inputs)}")
        graph = with_shapes(graph)
        self.graph, self.T, self.sequence, self.counts = graph, T, sequence, counts
        self.backend = ModuleBackend(graph, T, dtype, override)
        self.schedule = Schedule(graph, self.backend)
        self.layers = nn.ModuleDict(
            {module_key(i, n): m for i, (n, m) in enumerate(self.schedule.fns.items())}
        )
        self.neurons = [n for n, node in graph if node.spiking and node.stateful]
        self.input = graph.inputs[0]

    def output_names(self) -> list[str]:
        """Names of the returned tensors: the graph outputs, then ``spikes/<layer>``."""
        extra = [f"spikes/{n}" for n in self.neurons] if self.counts else []
        return list(self.graph.outputs) + extra

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        counts = Tally()
        inputs = {self.input: (x, True)} if self.sequence else {}
        static = {} if self.sequence else {self.input: x}
        outs = self.schedule.block(inputs, self.T, {}, static, counts)
        shapes = self.graph.shapes
        res = [self.backend.mean(y, t, shapes[o]) for o, (y, t) in outs.items()]
        if self.counts:
            res += [counts.spikes[n] for n in self.neurons]
        return res[0] if len(res) == 1 else tuple(res)
