"""The ``sjconvert`` console script and ``python -m sjconvert``.

This module imports nothing heavy: torch and the rest take seconds to load, and a Ctrl-C
then must not print a traceback. :func:`main` installs the handling first and only then
imports the command line (:mod:`.main`) with both signals held, so a Ctrl-C at any
moment — start-up imports included — prints ``interrupted`` and exits 130, and SIGTERM
exits 143; either way the temporary file of an output being written is removed
(:mod:`sjconvert.ir.files`).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
from types import FrameType

INTERRUPTED = 130  # the codes of .exits (importing it here would import typer and rich)
TERMINATED = 143


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM, so cleanup handlers run before exiting."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated(TERMINATED)


def _quiet_exit(code: int, message: str = "") -> None:
    """Exit with ``code``; a further Ctrl-C while the interpreter shuts down is ignored.
    After an interrupt the process ends at once (``os._exit``, output flushed): a shutdown
    would wait for worker threads still computing, and is itself interruptible."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if message:
        print(message, file=sys.stderr, flush=True)
    if code in (INTERRUPTED, TERMINATED):
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        os._exit(code)
    sys.exit(code)


def _import_cli() -> object:
    """Import the command line with SIGINT and SIGTERM held: a signal raised inside an
    extension's initialiser (torch's, during ``import torch``) would abort the process in
    C++ instead of reaching Python. A signal that arrives meanwhile ends the run right after
    the import, with its exit code."""
    held: list[int] = []
    hold = lambda signum, frame: held.append(signum)  # noqa: E731
    signal.signal(signal.SIGINT, hold)
    signal.signal(signal.SIGTERM, hold)
    try:
        cli = importlib.import_module("sjconvert.cli.main")  # deferred: see module docstring
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _terminate)
    if signal.SIGTERM in held:
        _quiet_exit(TERMINATED, "terminated")
    if held:
        _quiet_exit(INTERRUPTED, "interrupted")
    return cli


def main() -> None:
    """Run ``sjconvert`` with its exit codes (``sjconvert.cli.exits.EXIT_CODES``)."""
    try:
        os.environ.setdefault("PYTHONWARNINGS", "ignore")
        code = _import_cli().run()  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        report = getattr(sys.modules.get("sjconvert.cli.exits"), "report_interrupt", None)
        if report is None:  # interrupted before the import began
            _quiet_exit(INTERRUPTED, "interrupted")
        code = report()
    except Terminated:
        _quiet_exit(TERMINATED, "terminated")
    _quiet_exit(code)
