"""Documented lossy mappings for what NIR cannot express, applied only on request.

Each mapping rewrites IR nodes into ones NIR can hold; the rewritten IR graph is exactly
what the NIR file then means, so its accuracy can be measured beside the original's
(:func:`measure`) before anyone deploys it.

* ``soft-reset-as-hard``: ``V = H − V_th·S`` becomes ``V = H·(1 − S)`` (reset to 0).
* ``v-init-as-reset``: the membrane starts at ``v_reset`` instead of ``v_init``.
* ``maxpool-as-avgpool``: max pooling becomes average pooling with the same window (its
  zero padding counted in the mean, as NIR's ``AvgPool2d`` does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import InputError
from ...ir import nodes as ir
from ...ir.graph import Graph


@dataclass(frozen=True)
class Lossy:
    """One lossy mapping: which nodes it applies to and what it makes of them."""

    doc: str
    applies: Callable[[ir.Node], bool]
    rewrite: Callable[[ir.Node], ir.Node]


def _neuron(node: ir.Node) -> bool:
    """A rate-coded neuron with a reset field NIR can hold (a SignedIF it refuses by name)."""
    return node.rate_coded and not node.signed and "v_reset" in node.params()


def _pool(node: Any) -> ir.Node:
    """The average pool of a max pool's window; its zero padding counts in the mean, as in
    NIR's ``AvgPool2d`` (ResNets' padded max pools export)."""
    cls = ir.AvgPool1d if isinstance(node, ir.MaxPool1d) else ir.AvgPool2d
    return cls(node.kernel_size, node.stride, node.padding, node.ceil_mode, True)


LOSSY: dict[str, Lossy] = {
    "soft-reset-as-hard": Lossy(
        "soft reset V = H − V_th·S becomes reset to zero V = H·(1 − S)",
        lambda n: _neuron(n) and n.v_reset is None,  # type: ignore[attr-defined]
        lambda n: n.evolve(v_reset=0.0),
    ),
    "v-init-as-reset": Lossy(
        "the membrane starts at v_reset instead of v_init",
        lambda n: (
            _neuron(n)
            and n.v_reset is not None  # type: ignore[attr-defined]
            and bool(np.any(np.asarray(n.v_init) != n.v_reset))  # type: ignore[attr-defined]
        ),
        lambda n: n.evolve(v_init=n.v_reset),  # type: ignore[attr-defined]
    ),
    "maxpool-as-avgpool": Lossy(
        "max pooling becomes average pooling over the same window (padding counts as 0)",
        lambda n: n.pool and not n.linear,
        _pool,
    ),
}


def parse(names: Iterable[str]) -> tuple[str, ...]:
    """Validate lossy mapping names; the result is in the order they are applied."""
    wanted = set(names)
    unknown = sorted(wanted - set(LOSSY))
    if unknown:
        raise InputError(f"unknown lossy mapping(s) {unknown}; known: {', '.join(LOSSY)}")
    return tuple(k for k in LOSSY if k in wanted)


def apply(graph: Graph, names: Iterable[str]) -> tuple[Graph, dict[str, list[str]]]:
    """The graph with the named mappings applied (in :data:`LOSSY` order), and for each
    mapping the nodes it changed. The input graph is not modified."""
    ed = graph.editor()
    changed: dict[str, list[str]] = {}
    for key in parse(names):
        m = LOSSY[key]
        for name, node in list(ed.nodes.items()):
            if m.applies(node):
                ed.nodes[name] = m.rewrite(node)
                changed.setdefault(key, []).append(name)
    if changed:
        ed.meta["lossy"] = {k: list(v) for k, v in changed.items()}
    return ed.freeze(), changed


def needed(graph: Graph, given: Iterable[str]) -> dict[str, list[str]]:
    """Mappings not in ``given`` that the graph needs after ``given`` is applied."""
    graph, _ = apply(graph, given)
    out: dict[str, list[str]] = {}
    for key, m in LOSSY.items():
        hit = [n for n, node in graph if m.applies(node)]
        if hit:
            out[key] = hit
            graph, _ = apply(graph, [key])
    return out


@dataclass(frozen=True)
class LossyReport:
    """Accuracy (or agreement with the ANN) of the graph before and after the mappings."""

    samples: int
    metric: str
    before: dict[int, float]
    after: dict[int, float]

    def worst(self) -> tuple[int, float]:
        """``(T, drop)`` of the largest drop ``before − after`` over the measured T."""
        t = max(sorted(self.before), key=lambda t: self.before[t] - self.after[t])
        return t, self.before[t] - self.after[t]

    def lines(self) -> list[str]:
        return [
            f"T={t}: {self.metric} {self.before[t]:.4f} -> {self.after[t]:.4f} "
            f"({self.after[t] - self.before[t]:+.4f}) on {self.samples} samples"
            for t in sorted(self.before)
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "metric": self.metric,
            "before": {str(t): v for t, v in self.before.items()},
            "after": {str(t): v for t, v in self.after.items()},
        }
