"""The one interpreter: the multi-step schedule every executor runs, with backend hooks.

* A value is *static* (the same at every step: the direct input and what is computed from
  it alone) or *temporal* (one value per step). Static values are computed once; stateless
  ops on temporal values run once over time and batch folded together (``[T·N, ...]``);
  stateful nodes (neurons, delays) run all steps of a block in one call.
* Time runs in blocks of ``block`` steps; state carries from block to block, so a result
  never depends on the block size, and memory does not grow with T. Values are freed after
  their last reader.
* A scalar :class:`~sjconvert.ir.nodes.Scale` read only by an ``Add`` is applied by the
  ``Add`` (``Y = s₀·X₀``, then ``Y = Y + sᵢ·Xᵢ`` rounded once: :meth:`Backend.axpy`).
* A chain of element-wise nodes ending in a stateful one (:mod:`.chains`) runs as one step
  program where the backend runs programs (:meth:`Backend.program`) and nobody observes
  the values: the same ops on the same values, without the intermediate ones in memory.
* Each graph output is read as its running mean (``Σ_{t' ≤ t} Y[t'] / (t + 1)``; a
  :class:`~sjconvert.ir.nodes.Readout` integrates the membrane this way) after the steps a
  caller keeps, and each neuron layer's events are counted: both by
  :mod:`sjconvert.ops.readout`, the one definition every executor uses. Only running sums
  and the kept means stay in memory.

Backends (:mod:`.reference` in torch, :mod:`.arrays` in NumPy/CuPy, :mod:`.module` as an
exportable torch module) only say how arrays fold, add and run a node.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..errors import InputError, UnsupportedOpError
from ..ir import nodes as ir
from ..ir.graph import Graph
from ..ops import KERNELS, PROGRAMS, events, running_sum, static_means
from .chains import chain_program, chains
from .cost import fanouts
from .tally import Tally

Value = tuple[Any, bool]  # (array, temporal)
State = dict[str, Any]


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
    """Scalar Scale nodes read only by an Add, with their factors: the Add applies them."""
    return {
        name: float(node.factor)
        for name, node in graph
        if isinstance(node, ir.Scale)
        and node.factor.ndim == 0
        and name not in graph.outputs
        and [graph.nodes[c].sums for c in graph.consumers(name)] == [True]
    }


def runnable() -> list[type[ir.Node]]:
    """The node classes the schedule runs: every op with a kernel or a step program, and
    the ones it runs itself (sums, readouts)."""
    own = [c for c in ir.NODE_TYPES.values() if c.sums or c.readout]
    return sorted({*KERNELS, *PROGRAMS, *own}, key=lambda c: c.__name__)


def check_inputs(graph: Graph, xs: Sequence[Any], lead: int) -> None:
    """Each input must be ``[N, *shape]`` (``lead = 1``) or ``[T, N, *shape]`` (``lead = 2``)."""
    names = graph.inputs
    if len(xs) != len(names):
        raise InputError(f"graph has {len(names)} inputs, got {len(xs)} arrays")
    for name, x in zip(names, xs, strict=True):
        want = tuple(graph.nodes[name].shape)  # type: ignore[attr-defined]
        shape = tuple(x.shape)
        if shape[lead:] != want or len(shape) != len(want) + lead:
            raise InputError(
                f"input '{name}': expected shape [{'T, ' * (lead - 1)}N, "
                f"{', '.join(map(str, want))}], got {list(shape)}"
            )


class Backend:
    """How one executor represents values and runs nodes (see the module docstring)."""

    def stateless(self, name: str, node: ir.Node) -> Callable[[list[Any]], Any]:
        """``fn(xs) -> y`` on batches ``[B, ...]`` (B: N, or T·N folded)."""
        raise NotImplementedError

    def stateful(self, name: str, node: ir.Node) -> Callable[..., tuple[Any, Any]]:
        """``fn(x, steps, static, state) -> (y, state)``: ``x`` static ``[N, ...]`` or
        temporal; ``y`` temporal; ``state`` None before the first step."""
        raise NotImplementedError

    def program(self, name: str, node: ir.Node, program: Any) -> Any:
        """Like :meth:`stateful`, running ``program`` (a chain ending in ``node``,
        :mod:`.chains`) in place of ``node``'s own; None: the chain runs member by member."""
        return None

    def fold(self, x: Any, temporal: bool, steps: int, rank: int) -> Any:
        """A value as a batch ``[steps·N, ...]`` (``rank``: dims of one step's value)."""
        raise NotImplementedError

    def unfold(self, y: Any, steps: int) -> Any:
        """A batch ``[steps·N, ...]`` back to a temporal value."""
        raise NotImplementedError

    def add_terms(self, args: list[Value], steps: int, ranks: list[int]) -> list[Any]:
        """The Add's inputs, ready to sum (static ones broadcast or folded)."""
        return [x for x, _ in args]

    def axpy(self, a: Any, b: Any, alpha: float) -> Any:
        """``a + alpha·b``, rounded once where the reference does."""
        raise NotImplementedError

    def scaled(self, x: Any, alpha: float) -> Any:
        return x * alpha if alpha != 1.0 else x

    def weights(self, arr: Any) -> Any:
        """A per-sample constant array (a fan-out) as this backend's array."""
        return arr

    def stack(self, pieces: list[Any]) -> Any:
        """Arrays of one shape stacked on a new leading axis."""
        raise NotImplementedError

    def concat(self, pieces: list[Any], axis: int) -> Any:
        """Arrays joined along ``axis`` (samples run in chunks)."""
        raise NotImplementedError


class Schedule:
    """A graph bound to a backend: runs blocks of steps (see the module docstring). With
    ``cost`` it also counts each layer's synaptic operations."""

    def __init__(self, graph: Graph, backend: Backend, cost: bool = False) -> None:
        misplaced = [n for n, nd in graph if nd.readout and n not in graph.outputs]
        if misplaced:
            raise UnsupportedOpError(f"Readout nodes {misplaced} must be graph outputs")
        self.graph, self.backend = graph, backend
        self.alphas = folded_scales(graph)
        self.last_use = last_uses(graph)
        self.rank = {n: len(s) + 1 for n, s in graph.shapes.items()}
        self.fns: dict[str, Any] = {}
        for name, node in graph:
            if isinstance(node, ir.Input) or name in self.alphas or node.sums or node.readout:
                continue
            make = backend.stateful if node.stateful else backend.stateless
            self.fns[name] = make(name, node)
        self.chains: dict[str, tuple[tuple[str, ...], Any]] = {}
        for tail, members in chains(graph).items():
            fn = backend.program(tail, graph.nodes[tail], chain_program(graph, members))
            if fn is not None:
                self.chains[members[0]] = (members, fn)
        fans = fanouts(graph) if cost else {}
        self.fanout = {n: backend.weights(f.reshape(-1)) for n, f in fans.items()}

    def block(
        self,
        inputs: dict[str, Value],
        steps: int,
        state: State,
        static: dict[str, Any],
        counts: Tally | None,
        observe: Callable[[str, Any, bool], None] | None = None,
    ) -> dict[str, Value]:
        """Run ``steps`` steps: every node's value from the inputs of this block, the state
        of the previous one and the static values already known (both updated). Spikes per
        step and sample (and synaptic operations) go to ``counts``. Returns the graph
        outputs' values."""
        values = dict(inputs)
        fused = self.chains if observe is None else {}
        inner = {m for members, _ in fused.values() for m in members[:-1]}
        for name, node in self.graph:
            if name in fused:
                members, fn = fused[name]
                tail = members[-1]
                x = values[self.graph.edges[name][0]]
                values[tail] = self._stateful(
                    tail, self.graph.nodes[tail], fn, x, steps, state, counts
                )
            elif name in static:
                values[name] = (static[name], False)
            elif name not in values and name not in inner:
                values[name] = self._node(name, node, values, steps, state, counts)
                if not values[name][1]:
                    static[name] = values[name][0]
                if observe is not None:
                    observe(name, *values[name])
            for src in self.last_use.get(name, ()):
                values.pop(src, None)  # a chain's inner values never exist
        return {o: values[o] for o in self.graph.outputs}

    def run(
        self,
        xs: list[Any],
        T: int,
        sequence: bool,
        block: int,
        observe: Callable[[str, Any, bool], None] | None = None,
        keep: Iterable[int] | None = None,
    ) -> tuple[dict[str, Any], Tally]:
        """``T`` steps in blocks of ``block``: the running means ``[K, N, ...]`` of every
        graph output after each kept step (``keep``, counted from 1; every step by default),
        and the events (and synaptic operations) of every neuron layer (:class:`Tally`).
        Only running sums and the kept means are held: memory does not grow with T."""
        inputs = self.graph.inputs
        kept = sorted({t for t in (range(1, T + 1) if keep is None else keep) if 1 <= t <= T})
        state: State = {}
        tally = Tally(kept)
        static: dict[str, Any] = {} if sequence else dict(zip(inputs, xs, strict=True))
        totals: dict[str, Any] = dict.fromkeys(self.graph.outputs)
        means: dict[str, dict[int, Any]] = {o: {} for o in self.graph.outputs}
        wanted = set(kept)
        for t0 in range(0, T, block):
            n_t = min(block, T - t0)
            now = {n: (x[t0 : t0 + n_t], True) for n, x in zip(inputs, xs, strict=True)}
            outs = self.block(now if sequence else {}, n_t, state, static, tally, observe)
            for o, (y, temporal) in outs.items():
                if temporal:
                    totals[o], got = running_sum(totals[o], y, t0, wanted)
                else:
                    got = static_means(y, t0, n_t, wanted)
                means[o].update(got)
            tally.advance(n_t)
        return {o: self.backend.stack([m[t] for t in kept]) for o, m in means.items()}, tally

    def _node(
        self,
        name: str,
        node: ir.Node,
        values: dict[str, Value],
        steps: int,
        state: State,
        counts: Tally | None,
    ) -> Value:
        ins = self.graph.edges[name]
        args = [values[s] for s in ins]
        if name in self.alphas or node.readout:
            return args[0]  # passed on: the Add applies the factor / the output integrates
        if node.sums:
            return self._add(ins, args, steps)
        if node.stateful:
            return self._stateful(name, node, self.fns[name], args[0], steps, state, counts)
        fn = self.fns[name]
        if not any(t for _, t in args):
            return fn([x for x, _ in args]), False
        ranks = [self.rank.get(s, 0) for s in ins]
        folded = [self.backend.fold(x, t, steps, r) for (x, t), r in zip(args, ranks, strict=True)]
        return self.backend.unfold(fn(folded), steps), True

    def _stateful(
        self,
        name: str,
        node: ir.Node,
        fn: Any,
        arg: Value,
        steps: int,
        state: State,
        counts: Tally | None,
    ) -> Value:
        """A stateful node (or a chain ending in ``node``) over ``steps`` steps, its events
        counted where it spikes."""
        x, static = arg[0], not arg[1]
        if node.spiking and counts is not None and hasattr(fn, "counted"):
            fanout = self.fanout.get(name)
            y, state[name], (ev, syn) = fn.counted(x, steps, static, state.get(name), fanout)
            counts.add(name, ev, syn)
            return y, True
        y, state[name] = fn(x, steps, static, state.get(name))
        if node.spiking and counts is not None:
            self._count(name, node, y, steps, counts)
        return y, True

    def _count(self, name: str, node: ir.Node, y: Any, steps: int, counts: Tally) -> None:
        """Events (and synaptic operations: events weighted by the fan-out) of a layer."""
        features, fanout = math.prod(self.graph.shapes[name]), self.fanout.get(name)
        if fanout is None:
            counts.add(name, events(y, steps, features, signed=node.signed))
        else:
            counts.add(name, *events(y, steps, features, fanout, node.signed))

    def _add(self, ins: tuple[str, ...], args: list[Value], steps: int) -> Value:
        ranks = [self.rank.get(s, 0) for s in ins]
        xs = self.backend.add_terms(args, steps, ranks)
        out = self.backend.scaled(xs[0], self.alphas.get(ins[0], 1.0))
        for src, x in zip(ins[1:], xs[1:], strict=True):
            out = self.backend.axpy(out, x, self.alphas.get(src, 1.0))
        return out, any(t for _, t in args)
