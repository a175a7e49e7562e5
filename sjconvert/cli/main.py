"""The ``sjconvert`` console script: the app of :mod:`.app` with every target command
registered (each module in :mod:`.commands` adds its commands when imported)."""

from __future__ import annotations

import os

from ..errors import DistributedError
from ..exec import dist
from .app import app, err, shard_quiet
from .commands import lava, nir, onnx  # noqa: F401  (registers to-lava, fit, to-nir, ...)

__all__ = ["app", "main"]


def main() -> None:
    """Run the CLI; under ``torchrun`` (``WORLD_SIZE > 1``) join the process group first."""
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    try:
        shard_quiet(dist.init_from_env())
        app(prog_name="sjconvert", standalone_mode=True)
    except DistributedError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise SystemExit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise SystemExit(130) from None
    finally:
        dist.close()
