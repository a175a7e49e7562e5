"""Reference simulators over the IR, in torch.

* :class:`Program` prepares a graph once (parameters as tensors) and then runs
  - :meth:`Program.ann` — one pass in rate (ANN) mode: neurons as ``clamp(X/V_th, 0, 1)``;
  - :meth:`Program.snn` — the multi-step spiking simulation.
* Multi-step semantics: a value is *static* ``[N, ...]`` (the same every step) or
  *temporal* ``[T, N, ...]``. Stateless ops on static values run once, not T times (direct
  input to the first layer is computed once); on temporal values they run once over the
  folded ``[T·N, ...]`` batch. Neurons run all T steps in one fused call.
* The result holds, for every graph output, the running estimate after each step
  ``t = 1..T`` (Readout: ``V[t]/t``; spiking or other outputs: mean over steps so far),
  so accuracy at every ``T' <= T`` comes from one run. Deterministic: no randomness.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import InputError, UnsupportedOpError
from ..ir import nodes as ir
from ..ir.graph import Graph
from .dynamics import STATEFUL, run_stateful
from .neurons import run_neuron
from .torch_ops import get_kernel, prepare, rate_model


@dataclass
class SimResult:
    """Per-step estimates ``[T, N, ...]`` per output name, and spike totals per neuron node."""

    outputs: dict[str, torch.Tensor]
    spikes: dict[str, float] = field(default_factory=dict)

    @property
    def output(self) -> torch.Tensor:
        return next(iter(self.outputs.values()))


BLOCK_ELEMENTS = 1 << 22


def time_block(graph: Graph, n: int, elements: int = BLOCK_ELEMENTS) -> int:
    """Steps per time block for batch ``n``: a power of two such that temporal tensors hold
    about ``elements`` values. It does not depend on T, so step t is computed with the
    same batch shapes (hence the same float results) whatever T_max a run uses, as long as
    its block is complete. Other simulators use it to fold time the same way."""
    widest = max((math.prod(s) for s in graph.shapes.values()), default=1)
    fit = max(1, elements // max(1, n * widest))
    return 1 << (fit.bit_length() - 1)


def last_uses(graph: Graph) -> dict[str, list[str]]:
    """For each node, the values whose last reader it is (freed after it runs)."""
    last: dict[str, str] = {}
    for name, _ in graph:
        for src in graph.edges[name]:
            last[src] = name
    free: dict[str, list[str]] = {}
    for src, reader in last.items():
        if src not in graph.outputs:
            free.setdefault(reader, []).append(src)
    return free


def folded_scales(graph: Graph) -> dict[str, float]:
    """Scalar Scale nodes read only by an Add, with their factors: the Add applies them
    (``Y = A + s·B`` in one pass, ``torch.add(A, B, alpha=s)``). Backends that must match
    the simulator bit for bit fold the same nodes."""
    return {
        name: float(node.factor)
        for name, node in graph
        if isinstance(node, ir.Scale)
        and node.factor.ndim == 0
        and name not in graph.outputs
        and [type(graph.nodes[c]) for c in graph.consumers(name)] == [ir.Add]
    }


def time_blocks(
    graph: Graph,
    xs: list[Any],
    T: int,
    block: int,
    sequence: bool,
    node_fn: Callable[[str, ir.Node, dict[str, Any], int], tuple[Any, bool]],
) -> Iterator[tuple[int, int, dict[str, tuple[Any, bool]]]]:
    """The multi-step schedule, shared by the simulators: for each block of ``block`` steps,
    every node's value ``(array, temporal)`` from ``node_fn(name, node, values, steps)``;
    static values are computed in the first block only and values are freed after their
    last reader. Yields ``(t0, steps, values of the graph outputs)`` per block."""
    last_use = last_uses(graph)
    static = {} if sequence else dict(zip(graph.inputs, xs, strict=True))
    for t0 in range(0, T, block):
        n_t = min(block, T - t0)
        values: dict[str, tuple[Any, bool]] = {}
        if sequence:
            values.update(
                (n, (x[t0 : t0 + n_t], True)) for n, x in zip(graph.inputs, xs, strict=True)
            )
        for name, node in graph:
            if name in static:
                values[name] = (static[name], False)
            elif name not in values:
                values[name] = node_fn(name, node, values, n_t)
                if not values[name][1]:
                    static[name] = values[name][0]
            for src in last_use.get(name, ()):
                del values[src]
        yield t0, n_t, {o: values[o] for o in graph.outputs}


class Program:
    """A graph prepared for repeated runs in torch (float32 by default) on ``device`` (the
    CPU by default; on a GPU, neuron layers run whole-tensor steps)."""

    def __init__(
        self, graph: Graph, dtype: torch.dtype = torch.float32, device: str = "cpu"
    ) -> None:
        self.graph = graph
        self.dtype = dtype
        self.device = torch.device(device)
        self.params = {name: prepare(node, dtype, self.device) for name, node in graph}
        self.kernels = {
            name: (rate_model if node.spiking or isinstance(node, ir.Readout) else None)
            or get_kernel(node, name)
            for name, node in graph
            if not isinstance(node, ir.Input)
        }
        self._last_use = last_uses(graph)
        misplaced = [n for n, nd in graph if isinstance(nd, ir.Readout) and n not in graph.outputs]
        if misplaced:
            raise UnsupportedOpError(f"Readout nodes {misplaced} must be graph outputs")
        self._into_add = folded_scales(graph)

    def _check_input(self, xs: tuple[torch.Tensor, ...], lead: int) -> list[torch.Tensor]:
        names = self.graph.inputs
        if len(xs) != len(names):
            raise InputError(f"graph has {len(names)} inputs, got {len(xs)} tensors")
        out = []
        for name, x in zip(names, xs, strict=True):
            want = self.graph.nodes[name].shape  # type: ignore[attr-defined]
            x = torch.as_tensor(x)
            if tuple(x.shape[lead:]) != tuple(want) or x.ndim != len(want) + lead:
                raise InputError(
                    f"input '{name}': expected shape [{'T, ' * (lead - 1)}N, "
                    f"{', '.join(map(str, want))}], got {list(x.shape)}"
                )
            out.append(x.to(self.device, self.dtype))
        return out

    @torch.no_grad()
    def ann(
        self,
        *xs: torch.Tensor,
        keep: set[str] | None = None,
        observe: Callable[[str, torch.Tensor], None] | None = None,
    ) -> dict[str, torch.Tensor]:
        """One rate-mode pass over ``[N, ...]`` inputs. Returns the outputs and the nodes in
        ``keep`` (every node when ``keep`` is None); other values are freed when last read.
        ``observe(name, value)`` sees every node's output as soon as it is computed."""
        values = dict(zip(self.graph.inputs, self._check_input(xs, 1), strict=True))
        hold = set(self.graph.nodes) if keep is None else set(keep)
        for name, _ in self.graph:
            if name not in values:
                args = [values[s] for s in self.graph.edges[name]]
                values[name] = self.kernels[name](self.params[name], args)
                if observe is not None:
                    observe(name, values[name])
                for src in self._last_use.get(name, ()):
                    if src not in hold:
                        del values[src]
        return values

    @torch.no_grad()
    def snn(
        self,
        *xs: torch.Tensor,
        T: int,
        sequence: bool = False,
        block: int | None = None,
        observe: Callable[[str, torch.Tensor, bool], None] | None = None,
    ) -> SimResult:
        """Simulate ``T`` steps. Inputs are ``[N, ...]`` (direct input, the same current
        every step) or, with ``sequence=True``, ``[T, N, ...]``.

        The network runs in blocks of ``block`` steps (default: sized so each temporal
        tensor holds about ``BLOCK_ELEMENTS`` values); neuron state carries over between
        blocks, so the result does not depend on the block size, and memory does not grow
        with T. Values that do not depend on time are computed once, in the first block.
        ``observe(name, value, temporal)`` sees each node's value once per block (a static
        ``[N, ...]`` value only in the first block).
        """
        if T < 1:
            raise InputError(f"T must be >= 1, got {T}")
        xs_ = self._check_input(xs, 2 if sequence else 1)
        if sequence and any(x.shape[0] != T for x in xs_):
            raise InputError(f"sequence inputs must have T={T} steps on axis 0")
        tb = block or time_block(self.graph, xs_[0].shape[1 if sequence else 0])
        state: dict[str, torch.Tensor] = {}
        spikes: dict[str, float] = {}
        carry: dict[str, torch.Tensor | float] = dict.fromkeys(self.graph.outputs, 0.0)
        pieces: dict[str, list[torch.Tensor]] = {o: [] for o in self.graph.outputs}

        def node_fn(name: str, node: ir.Node, values: dict[str, Any], n_t: int) -> Any:
            value = self._node(name, node, values, n_t, state, spikes)
            if observe is not None:
                observe(name, *value)
            return value

        for t0, n_t, values in time_blocks(self.graph, xs_, T, tb, sequence, node_fn):
            steps = torch.arange(t0 + 1, t0 + n_t + 1, dtype=self.dtype, device=self.device)
            for o in self.graph.outputs:
                y, temporal = values[o]
                if not temporal:
                    pieces[o].append(y.unsqueeze(0).expand(n_t, *y.shape))
                    continue
                total = torch.cumsum(y, 0).add_(carry[o])
                carry[o] = total[-1]
                pieces[o].append(total / steps.reshape(-1, *([1] * (y.ndim - 1))))
        return SimResult({o: torch.cat(p) for o, p in pieces.items()}, spikes)

    def _node(
        self,
        name: str,
        node: ir.Node,
        values: dict[str, tuple[torch.Tensor, bool]],
        T: int,
        state: dict[str, torch.Tensor],
        spikes: dict[str, float],
    ) -> tuple[torch.Tensor, bool]:
        ins = self.graph.edges[name]
        if name in self._into_add:  # passed on unscaled; the Add applies the factor
            return values[ins[0]]
        if isinstance(node, ir.Add):
            return self._add(ins, values)
        if isinstance(node, (ir.IF, ir.LIF)):
            x, temporal = values[ins[0]]
            s, state[name] = run_neuron(node, x, T, static=not temporal, v0=state.get(name))
            spikes[name] = spikes.get(name, 0.0) + float(s.sum())
            return s, True
        if isinstance(node, STATEFUL):  # CubaLIF, LI, Delay (sim/dynamics.py)
            x, temporal = values[ins[0]]
            y, state[name] = run_stateful(node, x, T, not temporal, state.get(name))
            if node.spiking:
                spikes[name] = spikes.get(name, 0.0) + float(y.sum())
            return y, True
        return self._step(name, node, [values[s] for s in ins], T)

    def _step(
        self, name: str, node: ir.Node, args: list[tuple[torch.Tensor, bool]], T: int
    ) -> tuple[torch.Tensor, bool]:
        if isinstance(node, ir.Readout):  # integrated at the output (running mean)
            return args[0]
        if not any(t for _, t in args):
            return self.kernels[name](self.params[name], [x for x, _ in args]), False
        folded = [
            (x if t else x.unsqueeze(0).expand(T, *x.shape)).reshape(
                -1, *x.shape[(2 if t else 1) :]
            )
            for x, t in args
        ]
        y = self.kernels[name](self.params[name], folded)
        return y.reshape(T, -1, *y.shape[1:]), True

    def _add(
        self, ins: tuple[str, ...], values: dict[str, tuple[torch.Tensor, bool]]
    ) -> tuple[torch.Tensor, bool]:
        """Sum with folded scalar scales; broadcasting handles [N, ...] + [T, N, ...]."""
        first, *rest = ins
        f = self._into_add.get(first, 1.0)
        out = values[first][0] * f if f != 1.0 else values[first][0]
        for src in rest:
            out = torch.add(out, values[src][0], alpha=self._into_add.get(src, 1.0))
        return out, any(values[s][1] for s in ins)


def simulate(graph: Graph, *xs: torch.Tensor, T: int, sequence: bool = False) -> SimResult:
    """Run the multi-step reference simulation of ``graph`` (see :class:`Program`)."""
    return Program(graph).snn(*xs, T=T, sequence=sequence)
