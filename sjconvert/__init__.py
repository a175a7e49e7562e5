"""sjconvert: convert trained PyTorch models to spiking networks and prove every target
computes the same thing.

Python API (mirrors the CLI)::

    import sjconvert
    conv = sjconvert.ann2snn(model, calib_batches, mode="99.9%")
    sjconvert.save("net.sjir", conv.snn, source=conv.ann)
    report = sjconvert.simulate(conv.snn, batches, T=[4, 8, 16, 32], ann=conv.ann)
    trace = sjconvert.run(conv.snn, x, T=32)             # per-step outputs [T, N, classes]
    report = sjconvert.parity(conv.snn, batches, T=8, require="spikes=1.0")  # every backend
"""

from .api import Conversion, ParityReport, ann2snn, open_snn, parity, simulate
from .errors import (
    CaptureError,
    EmitError,
    InputError,
    PassError,
    SjconvertError,
    UnsupportedOpError,
)
from .exec import SimResult, Simulator, run
from .exec.evaluate import Evaluation
from .frontends import capture, load_data, load_model
from .ir import Graph, load, save

__version__ = "0.2.0"

__all__ = [
    "CaptureError",
    "Conversion",
    "EmitError",
    "Evaluation",
    "Graph",
    "InputError",
    "ParityReport",
    "PassError",
    "SimResult",
    "Simulator",
    "SjconvertError",
    "UnsupportedOpError",
    "ann2snn",
    "capture",
    "load",
    "load_data",
    "load_model",
    "open_snn",
    "parity",
    "run",
    "save",
    "simulate",
]
