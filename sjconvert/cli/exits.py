"""How a command run ends: one line and a documented exit code (:data:`EXIT_CODES`; the
table is in :mod:`.app` and the README). A :class:`~sjconvert.errors.SjconvertError` prints
``error: ...`` (prefixed ``[rank r]`` in a sharded run) and exits with its code; any other
exception is a bug: one line asking to report it, exit 70 (``--debug`` or
``SJCONVERT_DEBUG=1`` re-raises it); Ctrl-C prints ``interrupted`` once and exits 130.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from ..errors import SjconvertError, SjconvertWarning
from ..exec import dist

OUT_OF_MEMORY = 7
INTERNAL_ERROR = 70
INTERRUPTED = 130
TERMINATED = 143
CHECK_FAILED = 1
EXIT_CODES = {
    0: "success",
    CHECK_FAILED: "a check failed: parity missed a --require threshold (or a backend failed "
    "to run), to-nir --lossy lost more accuracy than --max-loss",
    2: "bad input (file, model, data, option or output) or usage",
    3: "cannot capture the model, or a target cannot express a node",
    4: "a conversion pass refused the graph",
    5: "a target failed to emit its output",
    6: "a sharded run (torchrun) failed: a process died, timed out or could not join",
    OUT_OF_MEMORY: "out of memory (Python's MemoryError): use less data or a smaller model",
    INTERNAL_ERROR: "internal error, a bug (--debug shows the traceback)",
    INTERRUPTED: "interrupted (Ctrl-C)",
    TERMINATED: "terminated (SIGTERM)",
}

err = Console(stderr=True)
R = TypeVar("R")
DEBUG = {"on": bool(os.environ.get("SJCONVERT_DEBUG"))}
_REPORTED = {"interrupt": False, "check": False}


def usage_error(exc: Exception) -> int:
    """Print Click's usage error ``exc`` (a missing or unknown option, an invalid value) as
    one line, as every other error, naming the help to read; its exit code (2)."""
    ctx = getattr(exc, "ctx", None)
    where = f" (see {ctx.command_path} --help)" if ctx is not None else ""
    message = " ".join(exc.format_message().split()).rstrip(".")  # type: ignore[attr-defined]
    err.print(f"[bold red]error:[/] {escape(message)}{where}", highlight=False, soft_wrap=True)
    return 2


class OneLineErrors(TyperGroup):
    """The command group: Click's usage errors are one line (:func:`usage_error`) instead of
    a usage box; running ``sjconvert`` alone prints the help."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except Exception as exc:
            if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
                raise  # not one of Click's errors
            if type(exc).__name__ == "NoArgsIsHelpError":
                typer.echo(exc.ctx.get_help())  # type: ignore[attr-defined]
                code = 2
            else:
                code = usage_error(exc)
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def check_failed() -> typer.Exit:
    """The exit of a check that ran and failed (exit 1, which otherwise maps to usage, 2)."""
    _REPORTED["check"] = True
    return typer.Exit(CHECK_FAILED)


def exit_code(code: int) -> int:
    """``code`` as documented: Click's own exit 1 (an aborted prompt) is a usage error, 2;
    exit 1 stays 1 only after :func:`check_failed`."""
    return 2 if code == CHECK_FAILED and not _REPORTED["check"] else code


def report_interrupt() -> int:
    """Print "interrupted" once per process; the exit code for it."""
    if not _REPORTED["interrupt"]:
        _REPORTED["interrupt"] = True
        err.print("interrupted")
    return INTERRUPTED


def _warn(caught: list[warnings.WarningMessage]) -> None:
    """sjconvert's own warnings, each once, one line each."""
    for text in dict.fromkeys(str(w.message) for w in caught):
        err.print(f"[bold yellow]warning:[/] {escape(text)}", highlight=False, soft_wrap=True)


def run_body(fn: Callable[[], R]) -> R:
    """Run a command body; errors become one line on stderr and a documented exit code.
    sjconvert's own warnings (:class:`~sjconvert.errors.SjconvertWarning`) follow the
    output of a command that succeeded, one line each; other libraries' warnings are not
    shown (``--debug`` shows every warning as it comes)."""
    try:
        with warnings.catch_warnings(record=not DEBUG["on"]) as caught:
            if not DEBUG["on"]:
                warnings.simplefilter("ignore")
                warnings.simplefilter("always", SjconvertWarning)
            result = fn()
        _warn(caught or [])
        return result
    except SjconvertError as exc:
        shard = dist.current()
        where = f"[rank {shard.rank}] " if shard.world > 1 else ""
        err.quiet = False
        err.print(
            f"[bold red]error:[/] {escape(where + str(exc))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        raise typer.Exit(report_interrupt()) from None
    except BrokenPipeError:  # stdout's reader went away (`| head`): the work is done
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None
    except MemoryError as exc:
        if DEBUG["on"]:
            raise
        err.print(
            f"[bold red]error:[/] out of memory ({escape(str(exc)[:200])}): this machine's "
            "memory (or a limit set on the process) is too small for this model and data; "
            "use fewer samples, a smaller batch or a larger machine",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(OUT_OF_MEMORY) from None
    except Exception as exc:
        if DEBUG["on"]:
            raise
        first = escape((str(exc).strip().splitlines() or [""])[0][:300])
        err.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {first} — this is a bug in "
            "sjconvert; rerun with --debug for the traceback, and report it with the command "
            "you ran",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(INTERNAL_ERROR) from None
