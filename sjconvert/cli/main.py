"""The ``sjconvert`` console script: the app of :mod:`.app` with every target command
registered (each module in :mod:`.commands` adds its commands when imported)."""

from __future__ import annotations

import os

from .app import app, err
from .commands import lava, nir, onnx, parity  # noqa: F401  (registers to-lava, fit, ...)

__all__ = ["app", "main"]


def main() -> None:
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    try:
        app(prog_name="sjconvert")
    except KeyboardInterrupt:
        err.print("interrupted")
        raise SystemExit(130) from None
