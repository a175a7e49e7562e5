"""Run file readers in a separate reader process, so that a file which crashes or hangs a C
library costs one line and exit code 2 instead of a dead or frozen command.

libhdf5 is not hardened against damaged or crafted files: a few flipped bytes in an IR file
sent it into an endless loop inside ``attrs[...]`` (HDF5 2.0), where neither Ctrl-C nor a
Python timeout can stop it because no Python code runs. :func:`isolated` sends the call
``fn(path, *args)`` to a reader process — forked on first use, then reused, so a command
pays for one fork — and gets the result back pickled. When the reader dies (a segfault) or
runs past :func:`read_timeout`, it is killed, the file is refused as damaged, and the next
call forks a new one. The reader ignores Ctrl-C (the caller handles it and kills the
reader), kills itself with ``alarm`` should a read outlive its limit, and exits when the
caller's end of its pipe closes (the caller exited). Where ``fork`` is unavailable or unsafe
(not Linux), or with ``SJCONVERT_ISOLATE=0``, readers run in-process.
"""

from __future__ import annotations

import atexit
import contextlib
import faulthandler
import os
import pickle
import select
import signal
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import InputError, SjconvertError

R = TypeVar("R")
TIMEOUT_ENV = "SJCONVERT_READ_TIMEOUT"
DEFAULT_TIMEOUT = 120.0
BYTES_PER_SECOND = 20e6
_HEADER = struct.Struct("<Q")


def read_timeout(path: Path) -> float:
    """Seconds one read may take: ``$SJCONVERT_READ_TIMEOUT`` (default 120) plus one per
    20 MB of file."""
    try:
        base = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT))
    except ValueError:
        base = DEFAULT_TIMEOUT
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    return max(base, 0.1) + size / BYTES_PER_SECOND


def _write(fd: int, data: bytes) -> None:
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view) :]


def _read(fd: int, n: int, deadline: float | None = None) -> bytes | None:
    """``n`` bytes from ``fd``; None at end of file or when ``deadline`` passes."""
    chunks, left = [], n
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                return None
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _message(fd: int, deadline: float | None = None) -> bytes | None:
    head = _read(fd, _HEADER.size, deadline)
    return None if head is None else _read(fd, _HEADER.unpack(head)[0], deadline)


def _serve(requests: int, replies: int) -> None:
    """The reader process: answer ``(cwd, limit, fn, path, args)`` requests until the
    caller closes its end; never returns."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for sig in (signal.SIGTERM, signal.SIGALRM):
            signal.signal(sig, signal.SIG_DFL)
        faulthandler.disable()  # a crash in libhdf5 is reported by the caller, in one line
        quiet = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):  # library chatter must not reach the user's terminal
            os.dup2(quiet, fd)
        while (request := _message(requests)) is not None:
            cwd, limit, fn, path, args = pickle.loads(request)
            signal.alarm(int(limit) + 5)
            try:
                os.chdir(cwd)
                out: tuple[str, Any] = ("ok", fn(path, *args))
            except SjconvertError as exc:
                out = ("error", exc)
            except BaseException:
                out = ("bug", traceback.format_exc())
            signal.alarm(0)
            try:
                data = pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:
                data = pickle.dumps(("bug", traceback.format_exc()))
            _write(replies, data)
    finally:
        os._exit(0)


class _Reader:
    """The caller's side: one reader process at a time, started on demand."""

    def __init__(self) -> None:
        self.pid = 0
        self.requests = self.replies = -1
        self.lock = threading.Lock()

    def start(self) -> None:
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(req_w)
            os.close(rep_r)
            _serve(req_r, rep_w)
        os.close(req_r)
        os.close(rep_w)
        self.pid, self.requests, self.replies = pid, req_w, rep_r

    def forget(self) -> None:
        """In a forked child: drop the parent's reader (its pipes are the parent's)."""
        for fd in (self.requests, self.replies) if self.pid else ():
            os.close(fd)
        self.pid = 0
        self.lock = threading.Lock()

    def stop(self) -> str:
        """Kill the reader; how it ended, for messages."""
        if not self.pid:
            return ""
        for fd in (self.requests, self.replies):
            os.close(fd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        if os.WIFSIGNALED(status) and os.WTERMSIG(status) != signal.SIGKILL:
            return f"signal {os.WTERMSIG(status)}"
        return "exit" if os.WIFEXITED(status) else "killed"

    def send(self, request: bytes) -> None:
        """Send a request, starting a reader first (again, if the last one has exited)."""
        if not self.pid:
            self.start()
        try:
            _write(self.requests, request)
        except BrokenPipeError:
            self.stop()
            self.start()
            _write(self.requests, request)

    def call(self, request: bytes, path: Path, limit: float) -> bytes:
        with self.lock:
            try:
                self.send(request)
                reply = _message(self.replies, time.monotonic() + limit)
            except BaseException:  # Ctrl-C while waiting: the reader's state is unknown
                self.stop()
                raise
            if reply is None:
                how = self.stop()
                what = (
                    f"the HDF5 reader crashed on it ({how})"
                    if how.startswith("signal")
                    else f"reading it did not finish within {limit:.0f} s"
                )
                raise InputError(f"{path}: {what}; a damaged or crafted file")
            return reply


_READER = _Reader()
atexit.register(_READER.stop)
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_READER.forget)


def prestart() -> None:
    """Fork the reader now, before this process starts threads (a process group's, torch's
    thread pools): a fork taken while other threads hold locks can leave the child stuck."""
    if _enabled():
        with _READER.lock:
            if not _READER.pid:
                _READER.start()


def _enabled() -> bool:
    return sys.platform.startswith("linux") and os.environ.get("SJCONVERT_ISOLATE") != "0"


def isolated(fn: Callable[..., R], path: Path, *args: Any) -> R:
    """``fn(path, *args)`` run in the reader process (see the module docstring); ``fn`` must
    be a module-level function (it is sent by name)."""
    if not _enabled():
        return fn(path, *args)
    limit = read_timeout(path)
    request = pickle.dumps((os.getcwd(), limit, fn, path, args))
    kind, payload = pickle.loads(_READER.call(request, path, limit))
    if kind == "ok":
        return payload
    if kind == "error":
        raise payload
    raise RuntimeError(f"reading {path} failed in the reader process:\n{payload}")
