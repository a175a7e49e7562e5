"""ONNX target: the SNN exported for edge runtimes (a T-unrolled model and a stateful
single-step model), run in ONNX Runtime, and ANN import from ONNX files.

The emitters are the Lynxi target's torch modules (registered for both targets): the
unrolled ONNX model is the Lynxi module in float32, exported with ``torch.onnx``."""

from __future__ import annotations

from ..lynxi import layers, neurons

__all__ = ["layers", "neurons"]
