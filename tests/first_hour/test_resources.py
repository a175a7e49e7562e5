"""First hour, the long runs: memory flat in T, --max-memory, and to-lava without Lava,
with a missing interpreter and under Ctrl-C (exit 130, ``interrupted``, nothing left)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.first_hour.user import files, peak_kib, refused, start, works

pytestmark = pytest.mark.examples

LAVA = ["to-lava", "m.sjir", "--calib", "calib.npz", "-o", "m.net", "-T", "8"]


def test_memory_does_not_grow_with_T(home: Path) -> None:
    """A simulation keeps running sums, not every step: 32 times the steps, about the same
    peak memory (it grew linearly: 0.8 GB at T = 256, 6.9 GB at T = 4096 on 50 samples)."""
    with np.load(home / "test.npz") as f:
        np.savez(home / "t8.npz", x=f["x"][:8], y=f["y"][:8])
    try:
        args = ["simulate", "m.sjir", "--data", "t8.npz", "--json", "-T"]
        low, high = peak_kib(home, *args, "64"), peak_kib(home, *args, "2048")
    finally:
        (home / "t8.npz").unlink()
    assert high < 1.25 * low, f"peak {low} KiB at T=64, {high} KiB at T=2048"


def test_max_memory_refuses_before_the_run(home: Path) -> None:
    """The estimate (exec/memory.py) is checked before anything runs: a limit below it is
    one line (exit 2) at once, and the estimate is the same for T = 64 and T = 10⁸ (it
    does not grow with T, so a long run is never refused for its length)."""
    args = ["simulate", "m.sjir", "--data", "test.npz", "--max-memory", "1M", "-T"]
    began = time.monotonic()
    long = refused(home, 2, *args, "100000000")
    assert time.monotonic() - began < 120, "the refusal came after a run"
    assert "needs about" in long and "the memory limit is 1 MB" in long
    short = refused(home, 2, *args, "64")
    assert short.split("needs about ")[1] == long.split("needs about ")[1], (short, long)
    data = args[:4]
    assert "--max-memory: memory size 'lots'" in refused(home, 2, *data, "--max-memory", "lots")
    works(home, *data, "--max-memory", "1G", "-T", "4")


def test_to_lava_without_lava_leaves_nothing(home: Path) -> None:
    """An interpreter without Lava is found out before the conversion: one line saying how
    to get one (or --lava-samples 0), exit 5, no artifact or loader left."""
    line = refused(home, 5, *LAVA, "--verify", "test.npz", SJCONVERT_LAVA_PYTHON=sys.executable)
    assert "cannot import Lava" in line and "--lava-samples 0" in line


def test_a_named_lava_interpreter_must_exist(home: Path) -> None:
    """SJCONVERT_LAVA_PYTHON naming nothing stops the run; no other interpreter is tried."""
    missing = str(home / "no-such" / "python3.10")
    line = refused(home, 5, *LAVA, "--verify", "test.npz", SJCONVERT_LAVA_PYTHON=missing)
    assert f"SJCONVERT_LAVA_PYTHON={missing}: no such interpreter" in line


def _interrupted(home: Path, proc: subprocess.Popen[str], before: set[str]) -> None:
    """SIGINT now: exit 130 with one line and nothing written, or (the signal came after
    the command finished) exit 0 with its output; never a traceback."""
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=600)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    if proc.returncode == 0:
        assert "m.net" in files(home) - before
        for name in files(home) - before:
            (home / name).unlink()
        return
    assert proc.returncode == 130 and err.strip().splitlines() == ["interrupted"], err
    assert files(home) == before, f"left behind: {files(home) - before}"


@pytest.mark.parametrize("delay", [0.5, 3.0, 12.0])
def test_ctrl_c_during_to_lava(home: Path, delay: float) -> None:
    """Ctrl-C at start-up, during the conversion or after the output is written."""
    before = files(home)
    proc = start(home, *LAVA)
    time.sleep(delay)
    _interrupted(home, proc, before)


def test_ctrl_c_during_lava_verification(home: Path, tmp_path: Path) -> None:
    """Ctrl-C while Lava runs (an interpreter that passes the Lava probe, then waits):
    exit 130, ``interrupted``, the artifact and its loader not left behind."""
    marker = tmp_path / "lava-started"
    fake = tmp_path / "python3.10"
    fake.write_text(
        f'#!/bin/sh\nif [ "$1" = "-c" ]; then exit 0; fi\necho $$ > "{marker}"\nexec sleep 300\n'
    )
    fake.chmod(0o755)
    before = files(home)
    proc = start(home, *LAVA, "--verify", "test.npz", SJCONVERT_LAVA_PYTHON=str(fake))
    deadline = time.monotonic() + 600
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.exists(), proc.communicate()[1]
    _interrupted(home, proc, before)
    assert proc.returncode == 130
