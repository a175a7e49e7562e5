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
* Each graph output is read as its running mean after every step (``Σ_{t' ≤ t} Y[t'] /
  (t + 1)``; a :class:`~sjconvert.ir.nodes.Readout` integrates the membrane this way).

Backends (:mod:`.reference` in torch, :mod:`.arrays` in NumPy/CuPy, :mod:`.module` as an
exportable torch module) only say how arrays fold, add and run a node.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError, UnsupportedOpError
from ..ir import nodes as ir
from ..ir.graph import Graph
from .cost import fanouts

Value = tuple[Any, bool]  # (array, temporal)
State = dict[str, Any]
BLOCK_ELEMENTS = 1 << 22


def time_block(graph: Graph, n: int, elements: int = BLOCK_ELEMENTS) -> int:
    """Steps per time block for batch ``n``: a power of two such that temporal tensors hold
    about ``elements`` values. It does not depend on T, so step t is computed with the
    same batch shapes (hence the same float results) whatever T a run uses."""
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
    """Scalar Scale nodes read only by an Add, with their factors: the Add applies them."""
    return {
        name: float(node.factor)
        for name, node in graph
        if isinstance(node, ir.Scale)
        and node.factor.ndim == 0
        and name not in graph.outputs
        and [type(graph.nodes[c]) for c in graph.consumers(name)] == [ir.Add]
    }


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

    def count(self, s: Any, steps: int, weight: Any = None) -> Any:
        """``Σ |s|`` per step and sample, ``[steps, N]``, of a temporal spike value ``s``
        (``[steps, N, ...]``); each element weighted by ``weight`` (its per-sample shape)
        when given."""
        raise NotImplementedError

    def weights(self, arr: Any) -> Any:
        """A per-sample constant array (a fan-out) as this backend's array."""
        return arr

    def running_mean(
        self, y: Any, temporal: bool, t0: int, steps: int, carry: Any
    ) -> tuple[Any, Any]:
        """The output's running means after steps ``t0 + 1 .. t0 + steps`` (a temporal
        ``[steps, N, ...]``) and the new carry (the sum so far; None before step 0)."""
        raise NotImplementedError

    def concat_time(self, pieces: list[Any]) -> Any:
        raise NotImplementedError


@dataclass
class Tally:
    """Per neuron layer, one ``[steps, N]`` array per block: spikes (``|S|`` summed over the
    layer) and, when costed, synaptic operations (``|S|·fanout``, :mod:`.cost`)."""

    spikes: dict[str, list[Any]] = field(default_factory=dict)
    synops: dict[str, list[Any]] = field(default_factory=dict)


class Schedule:
    """A graph bound to a backend: runs blocks of steps (see the module docstring). With
    ``cost`` it also counts each layer's synaptic operations."""

    def __init__(self, graph: Graph, backend: Backend, cost: bool = False) -> None:
        misplaced = [n for n, nd in graph if isinstance(nd, ir.Readout) and n not in graph.outputs]
        if misplaced:
            raise UnsupportedOpError(f"Readout nodes {misplaced} must be graph outputs")
        self.graph, self.backend = graph, backend
        self.alphas = folded_scales(graph)
        self.last_use = last_uses(graph)
        self.rank = {n: len(s) + 1 for n, s in graph.shapes.items()}
        self.fns: dict[str, Any] = {}
        for name, node in graph:
            if isinstance(node, ir.Input) or name in self.alphas:
                continue
            if isinstance(node, (ir.Add, ir.Readout)):
                continue
            make = backend.stateful if node.stateful else backend.stateless
            self.fns[name] = make(name, node)
        self.fanout = {n: backend.weights(f) for n, f in fanouts(graph).items()} if cost else {}

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
        for name, node in self.graph:
            if name in static:
                values[name] = (static[name], False)
            elif name not in values:
                values[name] = self._node(name, node, values, steps, state, counts)
                if not values[name][1]:
                    static[name] = values[name][0]
                if observe is not None:
                    observe(name, *values[name])
            for src in self.last_use.get(name, ()):
                del values[src]
        return {o: values[o] for o in self.graph.outputs}

    def run(
        self,
        xs: list[Any],
        T: int,
        sequence: bool,
        block: int,
        observe: Callable[[str, Any, bool], None] | None = None,
    ) -> tuple[dict[str, Any], Tally]:
        """``T`` steps in blocks of ``block``: the running means ``[T, N, ...]`` of every
        graph output, and the spikes (and synaptic operations) per step and sample ``[T, N]``
        of every neuron layer."""
        inputs = self.graph.inputs
        state: State = {}
        counts = Tally()
        static: dict[str, Any] = {} if sequence else dict(zip(inputs, xs, strict=True))
        carry: dict[str, Any] = dict.fromkeys(self.graph.outputs)
        pieces: dict[str, list[Any]] = {o: [] for o in self.graph.outputs}
        for t0 in range(0, T, block):
            n_t = min(block, T - t0)
            now = {n: (x[t0 : t0 + n_t], True) for n, x in zip(inputs, xs, strict=True)}
            outs = self.block(now if sequence else {}, n_t, state, static, counts, observe)
            for o, (y, temporal) in outs.items():
                piece, carry[o] = self.backend.running_mean(y, temporal, t0, n_t, carry[o])
                pieces[o].append(piece)
        joined = Tally(
            {n: self.backend.concat_time(v) for n, v in counts.spikes.items()},
            {n: self.backend.concat_time(v) for n, v in counts.synops.items()},
        )
        return {o: self.backend.concat_time(p) for o, p in pieces.items()}, joined

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
        if name in self.alphas or isinstance(node, ir.Readout):
            return args[0]  # passed on: the Add applies the factor / the output integrates
        if isinstance(node, ir.Add):
            return self._add(ins, args, steps)
        if node.stateful:
            ((x, temporal),) = args
            y, state[name] = self.fns[name](x, steps, not temporal, state.get(name))
            if node.spiking and counts is not None:
                counts.spikes.setdefault(name, []).append(self.backend.count(y, steps))
                if name in self.fanout:
                    synops = self.backend.count(y, steps, self.fanout[name])
                    counts.synops.setdefault(name, []).append(synops)
            return y, True
        fn = self.fns[name]
        if not any(t for _, t in args):
            return fn([x for x, _ in args]), False
        ranks = [self.rank.get(s, 0) for s in ins]
        folded = [self.backend.fold(x, t, steps, r) for (x, t), r in zip(args, ranks, strict=True)]
        return self.backend.unfold(fn(folded), steps), True

    def _add(self, ins: tuple[str, ...], args: list[Value], steps: int) -> Value:
        ranks = [self.rank.get(s, 0) for s in ins]
        xs = self.backend.add_terms(args, steps, ranks)
        out = self.backend.scaled(xs[0], self.alphas.get(ins[0], 1.0))
        for src, x in zip(ins[1:], xs[1:], strict=True):
            out = self.backend.axpy(out, x, self.alphas.get(src, 1.0))
        return out, any(t for _, t in args)
