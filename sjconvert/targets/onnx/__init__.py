"""ONNX target: the SNN exported for edge runtimes — a T-unrolled model and a stateful
single-step model, both the module executor of :mod:`sjconvert.exec.module` exported with
``torch.onnx`` — and run in ONNX Runtime for parity checks. The ONNX packages are optional
(``pip install 'sjconvert[onnx]'``); :func:`require_onnx` says which are missing in one
line. (Importing ANNs from ONNX files is a frontend: :mod:`sjconvert.frontends.onnx`.)"""

from __future__ import annotations

import importlib.util
from typing import Any

from ...errors import EmitError, SjconvertError
from ...exec.module import exportable
from ...ir import nodes as ir
from ..registry import Registry

PACKAGES = ("onnx", "onnxruntime")

__all__ = ["PACKAGES", "REGISTRY", "require_onnx"]


def _shared(name: str, node: ir.Node, ctx: Any) -> None:
    """The module executor's own module for the node (its kernel or step program)."""


REGISTRY: Registry[Any, None] = Registry("onnx")
REGISTRY.add(exportable(), _shared)


def require_onnx(error: type[SjconvertError] = EmitError, purpose: str = "ONNX export") -> None:
    """Raise ``error`` naming every missing ONNX package, unless all can be imported."""
    missing = [p for p in PACKAGES if importlib.util.find_spec(p) is None]
    if missing:
        raise error(
            f"{purpose} needs {', '.join(missing)}, not installed: pip install 'sjconvert[onnx]'"
        )
