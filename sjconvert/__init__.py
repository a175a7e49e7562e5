"""sjconvert: convert trained PyTorch models to spiking networks and prove every target
computes the same thing.

Python API (mirrors the CLI)::

    import sjconvert
    conv = sjconvert.ann2snn(model, calib_batches, mode="99.9%")
    sjconvert.save("net.sjir", conv.snn, source=conv.ann)
    report = sjconvert.simulate(conv.snn, batches, T=[4, 8, 16, 32], ann=conv.ann)
    trace = sjconvert.run(conv.snn, x, T=32)             # per-step outputs [T, N, classes]

The names below load on first use (PEP 562), so ``import sjconvert`` is instant and the
command line can handle Ctrl-C before torch is imported (:mod:`sjconvert.cli.entry`).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.2.0"

_EXPORTS = {
    "CaptureError": ".errors",
    "Conversion": ".api",
    "ConversionOptions": ".api",
    "EmitError": ".errors",
    "Evaluation": ".exec.evaluate",
    "Graph": ".ir",
    "ParityReport": ".api",
    "InputError": ".errors",
    "PassError": ".errors",
    "SimResult": ".exec",
    "Simulator": ".exec",
    "SjconvertError": ".errors",
    "UnsupportedOpError": ".errors",
    "ann2snn": ".api",
    "capture": ".frontends",
    "load": ".ir",
    "load_data": ".frontends",
    "load_model": ".frontends",
    "open_snn": ".api",
    "parity": ".api",
    "run": ".exec",
    "save": ".ir",
    "simulate": ".api",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sjconvert' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
