"""Emitter registry: one emitter per (target, IR op), as onnx2torch registers converters.

A target package (``sjconvert.targets.<name>``) registers its emitters on import::

    @register("onnx", "Linear")
    def _linear(name: str, node: ir.Linear, ctx: Any) -> Any: ...

and may attach an ``accepts(node) -> str | None`` check (``None`` = fine, else the reason)
for ops it takes only with some parameters (e.g. hard reset only). :func:`check` walks the
whole graph before anything is emitted and reports every unsupported node at once.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import UnsupportedOpError
from ..ir import nodes as ir
from ..ir.graph import Graph

Accepts = Callable[[Any], str | None]


@dataclass(frozen=True)
class Entry:
    emit: Callable[..., Any]
    accepts: Accepts | None = None


EMITTERS: dict[str, dict[str, Entry]] = {}


def op_name(node: ir.Node) -> str:
    """The registry key of a node: its IR class name (``Linear``, ``IF``, ...)."""
    return type(node).__name__


def register(
    target: str, *ops: str, accepts: Accepts | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering ``fn`` as ``target``'s emitter for each IR op in ``ops``."""
    unknown = [op for op in ops if op not in ir.NODE_TYPES]
    if unknown or not ops:
        raise ValueError(f"register({target!r}): unknown IR ops {unknown or '(none given)'}")

    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        table = EMITTERS.setdefault(target, {})
        for op in ops:
            if op in table:
                raise ValueError(f"an emitter for ({target!r}, {op!r}) is already registered")
            table[op] = Entry(fn, accepts)
        return fn

    return deco


def load_target(target: str) -> dict[str, Entry]:
    """Import ``sjconvert.targets.<target>`` (which registers its emitters); its table."""
    if target not in EMITTERS:
        try:
            importlib.import_module(f"{__package__}.{target}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{target}":
                raise
            raise UnsupportedOpError(
                f"unknown target {target!r}; known: {', '.join(available_targets())}"
            ) from None
    return EMITTERS.get(target, {})


def available_targets() -> list[str]:
    """Names of the target packages shipped in ``sjconvert.targets``."""
    from . import __path__ as pkg_path

    return sorted(m.name for m in pkgutil.iter_modules(pkg_path) if m.ispkg)


def check(graph: Graph, target: str) -> None:
    """Raise :class:`UnsupportedOpError` listing every node ``target`` cannot emit."""
    table = load_target(target)
    problems = []
    for name, node in graph:
        entry = table.get(op_name(node))
        if entry is None:
            problems.append(f"{graph.where(name)} ({op_name(node)}): no {target} emitter")
        elif entry.accepts is not None and (why := entry.accepts(node)) is not None:
            problems.append(f"{graph.where(name)} ({op_name(node)}): {why}")
    if problems:
        supported = ", ".join(sorted(table)) or "nothing"
        raise UnsupportedOpError(
            f"target {target} cannot express {len(problems)} node(s): {'; '.join(problems)} "
            f"(supported ops: {supported})"
        )


def emitter(graph: Graph, name: str, target: str) -> Callable[..., Any]:
    """The emitter for node ``name``; raises :class:`UnsupportedOpError` naming it on a miss."""
    node = graph.nodes[name]
    entry = load_target(target).get(op_name(node))
    if entry is None:
        raise UnsupportedOpError(
            f"target {target} has no emitter for {op_name(node)} at {graph.where(name)}"
        )
    return entry.emit
