"""Events per neuron layer, counted as a run goes (see :class:`Tally`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class Tally:
    """Events per neuron layer and sample (``|S|`` summed over the layer, :func:`~sjconvert.
    ops.readout.events`) and, when costed, synaptic operations (``|S|·fanout``, :mod:`.cost`):
    running totals ``[N]``, and the totals after each kept step (``keep``, counted from 1).
    Memory does not grow with T: a block's ``[steps, N]`` counts are folded in and dropped."""

    def __init__(self, keep: Iterable[int] = ()) -> None:
        self.keep = sorted(set(keep))
        self.t0 = 0
        self.spikes: dict[str, Any] = {}
        self.synops: dict[str, Any] = {}
        self.spikes_at: dict[str, list[Any]] = {}
        self.synops_at: dict[str, list[Any]] = {}

    def add(self, name: str, spikes: Any, synops: Any = None) -> None:
        """Fold in one layer's counts ``[steps, N]`` of the current block."""
        for counts, total, at in (
            (spikes, self.spikes, self.spikes_at),
            (synops, self.synops, self.synops_at),
        ):
            if counts is None:
                continue
            start = total.get(name)
            rows = [t - self.t0 - 1 for t in self.keep if 0 < t - self.t0 <= counts.shape[0]]
            if rows:  # integer-valued sums: exact in any order
                running = counts.cumsum(0)
                running = running if start is None else running + start
                at.setdefault(name, []).extend(running[i] for i in rows)
            block = counts.sum(0)
            total[name] = block if start is None else start + block

    def advance(self, steps: int) -> None:
        """The current block of ``steps`` steps is done."""
        self.t0 += steps

    @classmethod
    def joined(cls, parts: list[Tally], backend: Any) -> Tally:
        """The tallies of chunks of samples as one (``backend``: its ``stack`` and
        ``concat`` of arrays; the kept steps of a layer are joined in one concatenation)."""
        out = cls(parts[0].keep)
        out.t0 = parts[0].t0
        for totals, rows, into, at in (
            ([p.spikes for p in parts], [p.spikes_at for p in parts], out.spikes, out.spikes_at),
            ([p.synops for p in parts], [p.synops_at for p in parts], out.synops, out.synops_at),
        ):
            for name in totals[0]:
                into[name] = backend.concat([t[name] for t in totals], 0)
                kept = [r.get(name, []) for r in rows]
                if kept[0]:
                    whole = backend.concat([backend.stack(k) for k in kept], 1)
                    at[name] = list(whole)
        return out
