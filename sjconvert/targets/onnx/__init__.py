"""ONNX target: the SNN exported for edge runtimes (a T-unrolled model and a stateful
single-step model), run in ONNX Runtime, and ANN import from ONNX files.

The emitters are the Lynxi target's torch modules (registered for both targets): the
unrolled ONNX model is the Lynxi module in float32, exported with ``torch.onnx``. The ONNX
packages are optional (``pip install 'sjconvert[onnx]'``); :func:`require_onnx` says which
are missing in one line."""

from __future__ import annotations

import importlib.util

from ...errors import EmitError, SjconvertError
from ..lynxi import layers, neurons

PACKAGES = ("onnx", "onnxruntime", "onnx2torch", "onnxslim")

__all__ = ["PACKAGES", "layers", "neurons", "require_onnx"]


def require_onnx(error: type[SjconvertError] = EmitError, purpose: str = "ONNX export") -> None:
    """Raise ``error`` naming every missing ONNX package, unless all can be imported."""
    missing = [p for p in PACKAGES if importlib.util.find_spec(p) is None]
    if missing:
        raise error(
            f"{purpose} needs {', '.join(missing)}, not installed: pip install 'sjconvert[onnx]'"
        )
