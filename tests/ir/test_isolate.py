"""The reader process: results and errors come back, a crash or a hang is one InputError
and the next read starts a new reader."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from sjconvert.errors import InputError
from sjconvert.ir import isolate


def echo(path: Path, value: object) -> tuple[int, object]:
    return os.getpid(), value


def refuse(path: Path) -> None:
    raise InputError(f"{path}: refused")


def crash(path: Path) -> None:
    os.kill(os.getpid(), signal.SIGSEGV)


def hang(path: Path) -> None:
    time.sleep(60)


def bug(path: Path) -> None:
    raise ZeroDivisionError("a bug")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    if not isolate._enabled():
        pytest.skip("the reader process needs fork (Linux)")
    monkeypatch.setenv(isolate.TIMEOUT_ENV, "2")


def test_results_and_input_errors_come_back(tmp_path: Path) -> None:
    pid, value = isolate.isolated(echo, tmp_path, {"a": [1, 2]})
    assert pid != os.getpid() and value == {"a": [1, 2]}
    assert isolate.isolated(echo, tmp_path, 3)[0] == pid  # the same reader, reused
    with pytest.raises(InputError, match="refused"):
        isolate.isolated(refuse, tmp_path)


def test_a_crash_or_a_hang_is_one_input_error_and_the_reader_restarts(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="crashed on it \\(signal 11\\); a damaged"):
        isolate.isolated(crash, tmp_path)
    start = time.monotonic()
    with pytest.raises(InputError, match="did not finish within 2 s"):
        isolate.isolated(hang, tmp_path)
    assert time.monotonic() - start < 30
    assert isolate.isolated(echo, tmp_path, 1)[1] == 1


def test_a_bug_in_a_reader_stays_a_bug(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="ZeroDivisionError: a bug"):
        isolate.isolated(bug, tmp_path)


def test_it_can_be_switched_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SJCONVERT_ISOLATE", "0")
    assert isolate.isolated(echo, tmp_path, 1)[0] == os.getpid()
