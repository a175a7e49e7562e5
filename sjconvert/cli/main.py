"""The command line with every target command registered (each module in :mod:`.commands`
adds its commands when imported), and :func:`run`, which maps every way a run can end to a
documented exit code (:data:`.exits.EXIT_CODES`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from ..errors import DistributedError
from ..exec import dist
from ..ir.isolate import prestart
from .app import app, shard_quiet
from .commands import lava, nir, onnx, parity  # noqa: F401  (registers to-lava, fit, ...)
from .entry import Terminated
from .exits import INTERRUPTED, err, exit_code, report_interrupt

__all__ = ["app", "main", "run"]


def run(args: Sequence[str] | None = None) -> int:
    """Run the command line on ``args`` (default ``sys.argv[1:]``); returns the exit code.

    Commands map their own errors (:func:`.exits.run_body`); Click's usage errors exit 2 with
    Click's message (a Click error that would exit 1 exits 2 too); a Ctrl-C that Click
    turned into exit 130 before a command ran is reported like one inside a command. Under
    ``torchrun`` (``WORLD_SIZE > 1``) the process group is joined first and left at the end;
    a failure to join or a lost peer exits 6."""
    try:
        if dist.requested():
            prestart()  # the file reader forks before the process group's threads exist
        shard_quiet(dist.init_from_env())
        app(args=args, prog_name="sjconvert")
        code: Any = 0
    except Terminated:
        raise
    except DistributedError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        code = exc.exit_code
    except SystemExit as exc:
        code = exc.code
    finally:
        dist.close()
    code = 0 if code is None else code if isinstance(code, int) else 2
    if code == INTERRUPTED:
        return report_interrupt()
    return exit_code(code)


def main() -> None:
    """Entry point for an already-imported command line (see :mod:`.entry`)."""
    sys.exit(run())
