"""ONNX target: the SNN exported for edge runtimes — a T-unrolled model and a stateful
single-step model, both the module executor of :mod:`sjconvert.exec.module` exported with
``torch.onnx`` — and run in ONNX Runtime for parity checks. The ONNX packages are optional
(``pip install 'sjconvert[onnx]'``); :func:`require_onnx` says which are missing in one
line. (Importing ANNs from ONNX files is a frontend: :mod:`sjconvert.frontends.onnx`.)"""

from __future__ import annotations

import importlib.util
from typing import Any

from ...errors import EmitError, SjconvertError, UnsupportedOpError
from ...exec.module import exportable
from ...exec.shapes import with_shapes
from ...ir import nodes as ir
from ...ir.graph import Graph
from ...ir.nodes.pools import pooled_size
from ..registry import Registry

PACKAGES = ("onnx", "onnxruntime")

__all__ = ["PACKAGES", "REGISTRY", "check", "require_onnx"]


def _shared(name: str, node: ir.Node, ctx: Any) -> None:
    """The module executor's own module for the node (its kernel or step program)."""


def _accepts(node: ir.Node) -> str | None:
    """ONNX's AveragePool divides by the window (torch's exporter drops a divisor)."""
    if getattr(node, "divisor_override", None) is not None:
        return "divisor_override (ONNX AveragePool always divides by the window)"
    return None


REGISTRY: Registry[Any, None] = Registry("onnx")
REGISTRY.add(exportable(), _shared, accepts=_accepts)


def _pool_problem(node: Any, shape: tuple[int, ...]) -> str | None:
    """Windowed pools ONNX computes otherwise: a ceil-mode pool where torch's rule (the last
    window starts inside the input or its left padding) drops a window ONNX keeps, and a
    window wholly in the padding (torch gives −∞ or divides by zero there)."""
    if node.adaptive:
        return None
    ceil = node.ceil_mode
    dilation = getattr(node, "dilation", (1,) * len(node.kernel_size))
    for n, k, s, p, d in zip(
        shape[1:], node.kernel_size, node.stride, node.padding, dilation, strict=True
    ):
        size = pooled_size(n, k, s, p, d, ceil)
        onnx = (-(-(n + 2 * p - d * (k - 1) - 1) // s) if ceil else size - 1) + 1
        if onnx != size:
            return f"ceil mode drops its last window here (ONNX would keep it: {onnx} outputs)"
        for i in range(size):
            if not any(0 <= i * s - p + j * d < n for j in range(k)):
                return "a pooling window lies wholly in the padding"
    return None


def check(graph: Graph) -> None:
    """Raise :class:`UnsupportedOpError` listing every node ONNX cannot express as the
    reference computes it (the registry's refusals and shape-dependent ones)."""
    graph = with_shapes(graph)
    found = REGISTRY.problems(graph)
    for name, node in graph:
        why = _pool_problem(node, graph.shapes[graph.edges[name][0]]) if node.pool else None
        if why:
            found.append(f"{graph.where(name)} ({node.op}): {why}")
    if found:
        raise UnsupportedOpError(
            f"target onnx cannot express {len(found)} node(s): {'; '.join(found)}"
        )


def require_onnx(error: type[SjconvertError] = EmitError, purpose: str = "ONNX export") -> None:
    """Raise ``error`` naming every missing ONNX package, unless all can be imported."""
    missing = [p for p in PACKAGES if importlib.util.find_spec(p) is None]
    if missing:
        raise error(
            f"{purpose} needs {', '.join(missing)}, not installed: pip install 'sjconvert[onnx]'"
        )
