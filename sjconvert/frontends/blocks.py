"""A builder result of several IR nodes wired among themselves (attention: one torch call
becomes projections, head splits, two products, a softmax and a merge)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..ir import nodes as ir

INPUT = "<input>"  # the graph's first input: where a Constant takes its batch size from
Ref = int | str  # a call's k-th data argument, an earlier part's local name, or INPUT


@dataclass
class Block:
    """IR nodes for one torch call: each part is ``(local name, node, inputs, per-sample
    shape)``; the last part is the call's result (it keeps the call's name, the others are
    named ``<call>_<local>``)."""

    parts: list[tuple[str, ir.Node, tuple[Ref, ...], tuple[int, ...]]] = field(default_factory=list)

    def add(self, local: str, node: ir.Node, ins: tuple[Ref, ...], shape: tuple[int, ...]) -> str:
        """Append a part; returns its local name (unique within the block)."""
        taken = {p[0] for p in self.parts}
        name, k = local, 1
        while name in taken:
            name, k = f"{local}{k}", k + 1
        self.parts.append((name, node, tuple(ins), tuple(int(s) for s in shape)))
        return name

    def shape(self, local: str) -> tuple[int, ...]:
        return next(p[3] for p in self.parts if p[0] == local)
