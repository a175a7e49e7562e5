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

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import InputError
from ..ir import nodes as ir
from ..ir.graph import Graph
from ..ops import entry, prepare
from .arrays import Arrays, stateful
from .data_layout import is_sequence
from .memory import check_memory
from .plan import plan, run_chunked
from .schedule import Backend, Schedule, Tally, check_inputs, last_uses
from .shapes import with_shapes


@dataclass
class SimResult:
    """The running means ``[K, N, ...]`` per output name after each kept step ``steps``
    (every step 1..T unless fewer were asked for); per neuron layer the events per sample
    ``[N]`` over all T steps (``counts``), and, where the executor counts them, the events
    and synaptic operations per sample summed up to each kept step ``[K, N]`` (:mod:`.cost`).
    """

    outputs: dict[str, torch.Tensor]
    counts: dict[str, torch.Tensor] = field(default_factory=dict)
    spikes_at: dict[str, torch.Tensor] = field(default_factory=dict)
    synops: dict[str, torch.Tensor] = field(default_factory=dict)
    steps: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, outputs: dict[str, Any], tally: Tally, host: Callable[[Any], Any]) -> SimResult:
        """From a schedule's outputs and tally (``host``: an array as a CPU tensor)."""

        def stack(rows: list[Any]) -> torch.Tensor:
            return torch.stack([host(r) for r in rows])

        return cls(
            {k: host(v) for k, v in outputs.items()},
            {k: host(v) for k, v in tally.spikes.items()},
            {k: stack(v) for k, v in tally.spikes_at.items()},
            {k: stack(v) for k, v in tally.synops_at.items()},
            list(tally.keep),
        )

    def at(self, t: int) -> int:
        """The row of step ``t`` in ``outputs``, ``spikes_at`` and ``synops``."""
        try:
            return self.steps.index(t)
        except ValueError:
            raise InputError(f"step {t} was not kept (kept: {self.steps})") from None

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
        return prepare(node, shapes, self.dtype, self.device, rate_mode, share=True)

    def stateless(self, name: str, node: ir.Node) -> Callable[[list[Any]], Any]:
        found = entry(node)
        if found is None:
            raise InputError(f"reference simulator: no kernel for {node.op} at '{name}'")
        p, fn = self.params(name, node), found.fn
        return lambda xs: fn(p, xs)

    def stateful(self, name: str, node: ir.Node) -> Any:
        return stateful(node, Arrays(torch, self.dtype, self.device))

    def program(self, name: str, node: ir.Node, program: Any) -> Any:
        return stateful(node, Arrays(torch, self.dtype, self.device), program)

    def fold(self, x: Any, temporal: bool, steps: int, rank: int) -> Any:
        if temporal:
            return x.reshape(-1, *x.shape[2:])
        return x.unsqueeze(0).expand(steps, *x.shape).reshape(-1, *x.shape[1:])

    def unfold(self, y: Any, steps: int) -> Any:
        return y.reshape(steps, -1, *y.shape[1:])

    def axpy(self, a: Any, b: Any, alpha: float) -> Any:
        return torch.add(a, b, alpha=alpha) if alpha != 1.0 else a + b

    def weights(self, arr: Any) -> Any:
        return torch.tensor(arr, dtype=self.dtype, device=self.device)

    def stack(self, pieces: list[Any]) -> Any:
        return torch.stack(pieces)

    def concat(self, pieces: list[Any], axis: int) -> Any:
        return torch.cat(pieces, axis)


class Simulator:
    """A graph prepared for repeated runs in torch (float32 by default) on ``device`` (the
    CPU by default; on a GPU, neuron layers run whole-tensor steps). A run that would need
    more memory than ``max_memory`` (bytes or ``"4G"``; None: what is available) is refused
    before it starts (:func:`~.memory.check_memory`)."""

    def __init__(
        self,
        graph: Graph,
        dtype: torch.dtype = torch.float32,
        device: str = "cpu",
        max_memory: int | str | None = None,
    ) -> None:
        self.graph = with_shapes(graph)
        self.max_memory = max_memory
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
        keep: Iterable[int] | None = None,
    ) -> SimResult:
        """Simulate ``T`` steps. Inputs are ``[N, ...]`` (direct input, the same current
        every step) or, for a sequence input (``sequence``, by default what the graph's
        input records), ``[T, N, ...]``. ``block``: steps per time block (default
        :func:`~.plan.plan`). ``observe(name, value, temporal)`` sees each node's
        value once per block (a static ``[N, ...]`` value only in the first block); without a
        ``block`` the batch may run in chunks of samples (:func:`~.plan.plan`), except
        while observed.
        ``keep``: the steps whose running means the result holds (default every step; the
        memory a run needs does not otherwise depend on T)."""
        if T < 1:
            raise InputError(f"T must be >= 1, got {T}")
        seq = is_sequence(self.graph) if sequence is None else sequence
        xs_ = self._inputs(xs, 2 if seq else 1)
        if seq and any(x.shape[0] != T for x in xs_):
            raise InputError(f"sequence inputs must have T={T} steps on axis 0")
        n = xs_[0].shape[1 if seq else 0]
        check_memory(self.graph, n, T, keep, self.max_memory)
        tb, samples = (block, n) if block else plan(self.graph, n)
        outputs, tally = run_chunked(self.schedule, xs_, T, seq, tb, samples, observe, keep)
        return SimResult.of(outputs, tally, lambda v: v)


def run(
    graph: Graph,
    *xs: Any,
    T: int,
    sequence: bool | None = None,
    keep: Iterable[int] | None = None,
    max_memory: int | str | None = None,
) -> SimResult:
    """Run the multi-step reference simulation of ``graph`` (see :class:`Simulator`):
    the running means after every step, or after the steps in ``keep`` (memory then does
    not grow with T); refused in one line if it would need more than ``max_memory``."""
    return Simulator(graph, max_memory=max_memory).run(*xs, T=T, sequence=sequence, keep=keep)
