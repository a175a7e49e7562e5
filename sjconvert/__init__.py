"""sjconvert: convert trained PyTorch models to spiking networks and prove every target
computes the same thing.

Python API (mirrors the CLI)::

    import sjconvert
    conv = sjconvert.ann2snn(model, calib_batches, mode="99.9%")
    sjconvert.save("net.sjir", conv.snn, source=conv.ann)
    res = sjconvert.simulate(conv.snn, x, T=32)          # per-step outputs [T, N, classes]
    report = sjconvert.evaluate(conv.snn, batches, steps=[4, 8, 16, 32], ann=conv.ann)
"""

from .convert import Conversion, Evaluation, ann2snn, evaluate
from .errors import (
    CaptureError,
    EmitError,
    InputError,
    PassError,
    SjconvertError,
    UnsupportedOpError,
)
from .ir import Graph, capture, load, save
from .loading import load_data, load_model
from .sim import Program, SimResult, simulate

__version__ = "0.1.0"

__all__ = [
    "CaptureError",
    "Conversion",
    "EmitError",
    "Evaluation",
    "Graph",
    "InputError",
    "PassError",
    "Program",
    "SimResult",
    "SjconvertError",
    "UnsupportedOpError",
    "ann2snn",
    "capture",
    "evaluate",
    "load",
    "load_data",
    "load_model",
    "save",
    "simulate",
]
