"""Emitter registries: one emitter per (target, IR node class), as onnx2torch registers
converters. Each target package owns its :class:`Registry` (no global table, so importing
one target never registers another's emitters, and a test can build a registry of its own)::

    REGISTRY: Registry[ExportCtx, nir.NIRNode] = Registry("nir")

    @REGISTRY.register(ir.Linear)
    def _linear(name: str, node: ir.Linear, ctx: ExportCtx) -> nir.NIRNode: ...

An entry may carry ``accepts(node) -> str | None`` (None: fine, else the reason) for ops a
target takes only with some parameters. :meth:`Registry.check` walks the whole graph before
anything is emitted and reports every unsupported node at once, by name.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from ..errors import UnsupportedOpError
from ..ir import nodes as ir
from ..ir.graph import Graph

Ctx = TypeVar("Ctx", contravariant=True)
Out = TypeVar("Out", covariant=True)
Accepts = Callable[[Any], str | None]


class Emitter(Protocol[Ctx, Out]):
    """The typed contract of an emitter: ``(node name, node, target context) -> output``."""

    def __call__(self, name: str, node: Any, ctx: Ctx, /) -> Out: ...


@dataclass(frozen=True)
class Registration(Generic[Ctx, Out]):
    """One registered emitter and its optional condition on the node's parameters."""

    emit: Emitter[Ctx, Out]
    accepts: Accepts | None = None


class Registry(Generic[Ctx, Out]):
    """The emitters of one target, keyed by IR node class."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.entries: dict[type[ir.Node], Registration[Ctx, Out]] = {}

    def add(
        self,
        classes: Iterable[type[ir.Node]],
        fn: Emitter[Ctx, Out],
        accepts: Accepts | None = None,
    ) -> None:
        for cls in classes:
            if not (isinstance(cls, type) and issubclass(cls, ir.Node)):
                raise TypeError(f"{self.target}: {cls!r} is not an IR node class")
            if cls in self.entries:
                raise ValueError(f"an emitter for ({self.target!r}, {cls.__name__}) is registered")
            self.entries[cls] = Registration(fn, accepts)

    def register(
        self, *classes: type[ir.Node], accepts: Accepts | None = None
    ) -> Callable[[Emitter[Ctx, Out]], Emitter[Ctx, Out]]:
        """Decorator registering ``fn`` as the emitter for each node class in ``classes``."""
        if not classes:
            raise ValueError(f"register({self.target!r}) needs at least one node class")
        bad = [c for c in classes if not (isinstance(c, type) and issubclass(c, ir.Node))]
        if bad:
            raise TypeError(f"{self.target}: {bad[0]!r} is not an IR node class")

        def deco(fn: Emitter[Ctx, Out]) -> Emitter[Ctx, Out]:
            self.add(classes, fn, accepts)
            return fn

        return deco

    def get(self, node: ir.Node) -> Registration[Ctx, Out] | None:
        return self.entries.get(type(node))

    def ops(self) -> list[str]:
        return sorted(cls.__name__ for cls in self.entries)

    def problems(self, graph: Graph) -> list[str]:
        """Every node of ``graph`` this target cannot emit, with the reason."""
        out = []
        for name, node in graph:
            entry = self.get(node)
            if entry is None:
                out.append(f"{graph.where(name)} ({node.op}): {self.refusal(node)}")
            elif entry.accepts is not None and (why := entry.accepts(node)) is not None:
                out.append(f"{graph.where(name)} ({node.op}): {why}")
        return out

    def refusal(self, node: ir.Node) -> str:
        """Why this target has no emitter for ``node``: what kind of op it is, read from its
        traits, where that says why (``docs/transformers.md``)."""
        if node.accumulated:
            return (
                "a non-spiking op on accumulated values (running means), not on spikes: "
                f"{self.target} runs spike-driven ops only"
            )
        if node.bipolar:
            return (
                f"a bipolar burst neuron (up to {node.max_spikes} spikes of either sign per "  # type: ignore[attr-defined]
                f"step): {self.target}'s neuron models do not fire them"
            )
        return f"no {self.target} emitter"

    def check(self, graph: Graph) -> None:
        """Raise :class:`UnsupportedOpError` listing every node this target cannot emit."""
        found = self.problems(graph)
        if found:
            raise UnsupportedOpError(
                f"target {self.target} cannot express {len(found)} node(s): {'; '.join(found)} "
                f"(supported ops: {', '.join(self.ops()) or 'nothing'})"
            )

    def emitter(self, graph: Graph, name: str) -> Emitter[Ctx, Out]:
        """The emitter for node ``name``; raises :class:`UnsupportedOpError` naming it."""
        node = graph.nodes[name]
        entry = self.get(node)
        if entry is None:
            raise UnsupportedOpError(
                f"target {self.target} has no emitter for {node.op} at {graph.where(name)}"
            )
        return entry.emit


def available_targets() -> list[str]:
    """Names of the target packages shipped in ``sjconvert.targets``."""
    here = str(Path(__file__).parent)
    return sorted(m.name for m in pkgutil.iter_modules([here]) if m.ispkg)


def load_target(target: str) -> Registry[Any, Any]:
    """The registry of target ``target`` (its package's ``REGISTRY``)."""
    if target not in available_targets():
        raise UnsupportedOpError(
            f"unknown target {target!r}; known: {', '.join(available_targets())}"
        )
    return importlib.import_module(f"{__package__}.{target}").REGISTRY
