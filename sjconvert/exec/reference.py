"""The reference simulator: the schedule of :mod:`.schedule` with torch tensors.

* :class:`Simulator` prepares a graph once (parameters as tensors) and then runs
  - :meth:`Simulator.rate` — one pass in rate (ANN) mode: a neuron is its rate model
    (``clamp(X/V_th, 0, 1)`` for IF/LIF);
  - :meth:`Simulator.run` — the multi-step spiking simulation.
* Temporal values are ``[T, N, ...]``; a static value is ``[N, ...]`` and broadcasts.
* The result holds, for every graph output, the running estimate after each step
  ``t = 1..T``, so accuracy at every ``T' <= T`` comes from one run; and the spikes of
  every neuron layer per sample. Deterministic: no randomness.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import InputError
from ..ir import nodes as ir
from ..ir.graph import Graph
from ..ops import entry, prepare
from .arrays import Arrays, stateful
from .data_layout import is_sequence
from .schedule import Backend, Schedule, Tally, check_inputs, last_uses, time_block
from .shapes import with_shapes


@dataclass
class SimResult:
    """Per-step estimates ``[T, N, ...]`` per output name; per neuron layer the spikes per
    sample ``[N]`` (summed over the T steps), and where the executor counts them the spikes
    and the synaptic operations per step and sample ``[T, N]`` (:mod:`.cost`)."""

    outputs: dict[str, torch.Tensor]
    counts: dict[str, torch.Tensor] = field(default_factory=dict)
    per_step: dict[str, torch.Tensor] = field(default_factory=dict)
    synops: dict[str, torch.Tensor] = field(default_factory=dict)

    @classmethod
    def of(cls, outputs: dict[str, torch.Tensor], tally: Tally) -> SimResult:
        """From a schedule's outputs and its per-step tallies."""
        return cls(
            outputs, {k: v.sum(0) for k, v in tally.spikes.items()}, tally.spikes, tally.synops
        )

    @property
    def output(self) -> torch.Tensor:
        return next(iter(self.outputs.values()))

    @property
    def spikes(self) -> dict[str, float]:
        """Spike totals per neuron layer over the batch."""
        return {k: float(v.sum()) for k, v in self.counts.items()}


class TorchBackend(Backend):
    """Torch tensors on one device; temporal values ``[T, N, ...]``."""

    def __init__(self, graph: Graph, dtype: torch.dtype, device: torch.device) -> None:
        self.graph, self.dtype, self.device = graph, dtype, device

    def params(self, name: str, node: ir.Node, rate_mode: bool = False) -> dict[str, Any]:
        shapes = [self.graph.shapes[s] for s in self.graph.edges[name]]
        return prepare(node, shapes, self.dtype, self.device, rate_mode)

    def stateless(self, name: str, node: ir.Node) -> Callable[[list[Any]], Any]:
        found = entry(node)
        if found is None:
            raise InputError(f"reference simulator: no kernel for {node.op} at '{name}'")
        p, fn = self.params(name, node), found.fn
        return lambda xs: fn(p, xs)

    def stateful(self, name: str, node: ir.Node) -> Any:
        return stateful(node, Arrays(torch, self.dtype, self.device))

    def fold(self, x: Any, temporal: bool, steps: int, rank: int) -> Any:
        if temporal:
            return x.reshape(-1, *x.shape[2:])
        return x.unsqueeze(0).expand(steps, *x.shape).reshape(-1, *x.shape[1:])

    def unfold(self, y: Any, steps: int) -> Any:
        return y.reshape(steps, -1, *y.shape[1:])

    def axpy(self, a: Any, b: Any, alpha: float) -> Any:
        return torch.add(a, b, alpha=alpha) if alpha != 1.0 else a + b

    def count(self, s: Any, steps: int, weight: Any = None) -> Any:
        a = s.abs() if weight is None else s.abs().mul_(weight)
        return a.reshape(steps, s.shape[1], -1).sum(2, dtype=torch.float64)

    def weights(self, arr: Any) -> Any:
        return torch.tensor(arr, dtype=self.dtype, device=self.device)

    def running_mean(
        self, y: Any, temporal: bool, t0: int, steps: int, carry: Any
    ) -> tuple[Any, Any]:
        if not temporal:
            return y.unsqueeze(0).expand(steps, *y.shape), carry
        total = torch.cumsum(y, 0)
        if carry is not None:
            total.add_(carry)
        div = torch.arange(t0 + 1, t0 + steps + 1, dtype=y.dtype, device=y.device)
        return total / div.reshape(-1, *([1] * (y.ndim - 1))), total[-1]

    def concat_time(self, pieces: list[Any]) -> Any:
        return torch.cat(pieces)


class Simulator:
    """A graph prepared for repeated runs in torch (float32 by default) on ``device`` (the
    CPU by default; on a GPU, neuron layers run whole-tensor steps)."""

    def __init__(
        self, graph: Graph, dtype: torch.dtype = torch.float32, device: str = "cpu"
    ) -> None:
        self.graph = with_shapes(graph)
        self.dtype, self.device = dtype, torch.device(device)
        self.backend = TorchBackend(self.graph, dtype, self.device)
        self.schedule = Schedule(self.graph, self.backend, cost=True)
        self._rate: dict[str, Callable[[list[Any]], Any]] | None = None

    def _inputs(self, xs: tuple[Any, ...], lead: int) -> list[torch.Tensor]:
        ts = [torch.as_tensor(x) for x in xs]
        check_inputs(self.graph, ts, lead)
        return [t.to(self.device, self.dtype) for t in ts]

    def _rate_fns(self) -> dict[str, Callable[[list[Any]], Any]]:
        if self._rate is None:
            fns = {}
            for name, node in self.graph:
                found = entry(node, rate_mode=True)
                if found is None:
                    raise InputError(f"no rate model for {node.op} at '{name}'")
                p = self.backend.params(name, node, rate_mode=True)
                fns[name] = lambda xs, p=p, fn=found.fn: fn(p, xs)
            self._rate = fns
        return self._rate

    @torch.no_grad()
    def rate(
        self,
        *xs: Any,
        keep: set[str] | None = None,
        observe: Callable[[str, torch.Tensor], None] | None = None,
    ) -> dict[str, torch.Tensor]:
        """One rate-mode pass over ``[N, ...]`` inputs. Returns the outputs and the nodes in
        ``keep`` (every node when ``keep`` is None); other values are freed when last read.
        ``observe(name, value)`` sees every node's output as soon as it is computed."""
        fns = self._rate_fns()
        values = dict(zip(self.graph.inputs, self._inputs(xs, 1), strict=True))
        hold = set(self.graph.nodes) if keep is None else set(keep)
        free = last_uses(self.graph)
        for name, _ in self.graph:
            if name not in values:
                values[name] = fns[name]([values[s] for s in self.graph.edges[name]])
                if observe is not None:
                    observe(name, values[name])
            for src in free.get(name, ()):
                if src not in hold:
                    del values[src]
        return values

    @torch.no_grad()
    def run(
        self,
        *xs: Any,
        T: int,
        sequence: bool | None = None,
        block: int | None = None,
        observe: Callable[[str, torch.Tensor, bool], None] | None = None,
    ) -> SimResult:
        """Simulate ``T`` steps. Inputs are ``[N, ...]`` (direct input, the same current
        every step) or, for a sequence input (``sequence``, by default what the graph's
        input records), ``[T, N, ...]``. ``block``: steps per time block (default
        :func:`~.schedule.time_block`). ``observe(name, value, temporal)`` sees each node's
        value once per block (a static ``[N, ...]`` value only in the first block)."""
        if T < 1:
            raise InputError(f"T must be >= 1, got {T}")
        seq = is_sequence(self.graph) if sequence is None else sequence
        xs_ = self._inputs(xs, 2 if seq else 1)
        if seq and any(x.shape[0] != T for x in xs_):
            raise InputError(f"sequence inputs must have T={T} steps on axis 0")
        tb = block or time_block(self.graph, xs_[0].shape[1 if seq else 0])
        outputs, tally = self.schedule.run(xs_, T, seq, tb, observe)
        return SimResult.of(outputs, tally)


def run(graph: Graph, *xs: Any, T: int, sequence: bool | None = None) -> SimResult:
    """Run the multi-step reference simulation of ``graph`` (see :class:`Simulator`)."""
    return Simulator(graph).run(*xs, T=T, sequence=sequence)
