"""Real signals to a real ``python -m sjconvert``: Ctrl-C during the start-up imports or
inside a command prints ``interrupted`` and exits 130; SIGTERM prints ``terminated`` and
exits 143; never a traceback. ``-X importtime`` tells the test when the process has
reached sjconvert's own code (an ``import`` statement's line goes to stderr when the module
is loaded); the reader process it forks tells when a command body has started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from sjconvert.ir import Graph, save
from sjconvert.ir import nodes as ir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small SNN and enough data for ``simulate -T 100000`` to run for minutes."""
    folder = tmp_path_factory.mktemp("signals")
    r = np.random.default_rng(0)
    nodes = {
        "x": ir.Input((64,)),
        "l": ir.Linear(r.uniform(0, 0.1, (64, 64)), None),
        "n": ir.IF(1.0, 0.0, 0.0),
        "o": ir.Linear(r.normal(size=(3, 64)), None),
        "r": ir.Readout(),
    }
    edges = {"x": (), "l": ("x",), "n": ("l",), "o": ("n",), "r": ("o",)}
    model = save(folder / "m.sjir", Graph(nodes, edges, ("r",)))
    data = folder / "d.npz"
    np.savez(data, x=r.uniform(0, 1, (2048, 64)).astype(np.float32), y=np.arange(2048) % 3)
    return model, data


def _default_sigint() -> None:
    """A test runner started in the background may ignore SIGINT, and the child would
    inherit that; give it the default, as a terminal does."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(*args: str, importtime: bool = True) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    flags = ["-X", "importtime"] if importtime else []  # stderr must then be read
    return subprocess.Popen(
        [sys.executable, *flags, "-m", "sjconvert", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def _wait_for(proc: subprocess.Popen[str], module: str, seen: list[str]) -> None:
    """Read stderr until ``module`` has been imported."""
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if line.split("|")[-1].strip() == module:
            return
    raise AssertionError(f"{module} was never imported:\n{''.join(seen[-20:])}")


def _wait_for_reader(proc: subprocess.Popen[str]) -> None:
    """Wait until the process has forked its reader process (its command body runs)."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    if not children.exists():
        pytest.skip("needs /proc to see the reader process")
    deadline = time.monotonic() + 300
    while not children.read_text().strip():
        assert proc.poll() is None and time.monotonic() < deadline, "the command never started"
        time.sleep(0.05)


def _finish(proc: subprocess.Popen[str], seen: list[str]) -> tuple[int, list[str]]:
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    lines = [
        line
        for line in [*seen, *err.splitlines(keepends=True)]
        if not line.startswith("import time:")
    ]
    return proc.returncode, [line.strip() for line in lines if line.strip()] + out.splitlines()


@pytest.mark.parametrize("delay", [0.0, 0.3, 1.0])
def test_ctrl_c_during_start_up_imports(files: tuple[Path, Path], delay: float) -> None:
    model, _ = files
    proc = _start("inspect", str(model))
    seen: list[str] = []
    _wait_for(proc, "sjconvert.cli.entry", seen)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    code, lines = _finish(proc, seen)
    assert "Traceback" not in "\n".join(lines) and "KeyboardInterrupt" not in "\n".join(lines)
    if code == 0:  # the command finished before the signal arrived: nothing to check
        pytest.skip(f"inspect finished within {delay} s of start-up")
    assert code == 130 and lines == ["interrupted"], (code, lines)


@pytest.mark.parametrize(
    ("sig", "code", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
def test_a_signal_inside_a_command(
    files: tuple[Path, Path], sig: signal.Signals, code: int, word: str
) -> None:
    model, data = files
    proc = _start("simulate", str(model), "--data", str(data), "-T", "100000", importtime=False)
    _wait_for_reader(proc)
    time.sleep(1.5)
    proc.send_signal(sig)
    got, lines = _finish(proc, [])
    assert got == code and lines == [word], (got, lines)
