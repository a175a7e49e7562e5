"""Launch Lava on a network file and compare what it computed with our fixed-point
simulator.

Lava needs Python 3.10 (lava-nc 0.10, lava-dl 0.6). It always runs in a subprocess
(``python -m sjconvert.targets.lava.running.in_lava``, :func:`~.in_lava.run_batched`: the
network built
once, samples back to back), in the running interpreter when it imports Lava, else
``$SJCONVERT_LAVA_PYTHON``, else ``.venv-lava/bin/python`` beside the sjconvert checkout.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ....errors import EmitError
from ..fixed_point.simulator import Trace
from ..formats.procgraph import ProcGraph

REPO = Path(__file__).resolve().parents[4]
ENV_VAR = "SJCONVERT_LAVA_PYTHON"
# set to 1 for a run pinned to one CPU: BLAS computes in the calling thread
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
# Lava runs in progress, with the ``stop`` of the check each belongs to (see kill_running)
_RUNNING: dict[subprocess.Popen, threading.Event | None] = {}
_LOCK = threading.Lock()


NO_LAVA = (
    "set {var} to a Python 3.10 interpreter with lava-dl 0.6 installed, create one with "
    "`make .venv-lava/.built` in the sjconvert checkout, or skip Lava with --lava-samples 0"
)
PROBE = "import lava.magma.core.run_configs, lava.proc.sdn.process, numpy"


def lava_python() -> str:
    """The interpreter that runs Lava: ``$SJCONVERT_LAVA_PYTHON`` when set (it must
    exist), else the running interpreter when it imports Lava, else ``.venv-lava`` beside
    the sjconvert checkout; :class:`EmitError` saying how to get one otherwise."""
    named = os.environ.get(ENV_VAR)
    if named:
        if not Path(named).is_file():
            raise EmitError(
                f"{ENV_VAR}={named}: no such interpreter; " + NO_LAVA.format(var=ENV_VAR)
            )
        return named
    if importlib.util.find_spec("lava") is not None:
        return sys.executable
    default = REPO / ".venv-lava" / "bin" / "python"
    if default.is_file():
        return str(default)
    raise EmitError("Lava environment not found: " + NO_LAVA.format(var=ENV_VAR))


def require_lava() -> str:
    """:func:`lava_python`, checked to import Lava (a few seconds), before any work."""
    python = lava_python()
    try:
        done = subprocess.run(
            [python, "-c", PROBE], capture_output=True, text=True, timeout=300, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EmitError(
            f"{python} cannot run Lava ({exc}); " + NO_LAVA.format(var=ENV_VAR)
        ) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise EmitError(f"{python} cannot import Lava ({last}); " + NO_LAVA.format(var=ENV_VAR))
    return python


def run_lava(
    path: Path,
    x: np.ndarray,
    names: list[str],
    progress: Callable[[int], None] | None = None,
    cpu: int | None = None,
    stop: threading.Event | None = None,
) -> Trace:
    """Run input messages ``x`` (``[T, N, *Lava shape]``) through the network file at
    ``path`` (an ``.lpg.npz`` artifact or NetX) in Lava; ``names`` are its populations in
    order. ``progress(k)`` is called as ``k`` more samples finish; ``cpu``: the run is
    pinned to that CPU (``in_lava --cpu``, BLAS single-threaded). The Lava run is a
    session of its own (a Ctrl-C reaches only us): on any error or interrupt here, or a
    :func:`kill_running` of its ``stop``, it is killed with every process it started, and
    its files go with the temporary folder. Once ``stop`` is set, no run starts."""
    python = lava_python()
    with tempfile.TemporaryDirectory() as tmp:
        xin, out, log = Path(tmp) / "x.npz", Path(tmp) / "out.npz", Path(tmp) / "stderr"
        np.savez(xin, x=x)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        }
        cmd = [python, "-m", "sjconvert.targets.lava.running.in_lava", str(path), str(xin)]
        if cpu is not None:
            cmd += ["--cpu", str(cpu)]
            env.update({k: "1" for k in BLAS_THREADS})
        with open(log, "w") as err:
            code = _follow([*cmd, str(out)], env, err, progress, stop)
        if code != 0:
            tail = log.read_text().strip().splitlines()[-1:] or ["(no output)"]
            raise EmitError(f"Lava run failed ({python}): {tail[0]}")
        with np.load(out) as f:
            keys = [k for k in f.files if k.startswith("spikes/")]  # in population order
            spikes = {name: f[k] for name, k in zip(names, keys, strict=True)}
            extra = {"build_seconds": float(f["build_seconds"]), "threads": float(f["threads"])}
            return Trace(spikes, f["state"], float(f["seconds"]), extra)


def _follow(
    cmd: list[str],
    env: dict[str, str],
    err: Any,
    progress: Callable[[int], None] | None,
    stop: threading.Event | None = None,
) -> int:
    """Run ``cmd`` in a session of its own, passing its ``progress DONE TOTAL`` lines on;
    its exit code. Killed (its whole process group) if anything interrupts the wait."""
    with _LOCK:  # kill_running sets ``stop`` first: a run is either killed or not started
        if stop is not None and stop.is_set():
            raise EmitError("Lava run not started: another run of the check failed")
        proc = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True
        )
        _RUNNING[proc] = stop
    try:
        done = 0
        for line in proc.stdout or ():
            if line.startswith("progress ") and progress is not None:
                now = int(line.split()[1])
                progress(now - done)
                done = now
        return proc.wait()
    except BaseException:
        _kill(proc)
        raise
    finally:
        with _LOCK:
            _RUNNING.pop(proc, None)
        if proc.stdout is not None:
            proc.stdout.close()


def _kill(proc: subprocess.Popen) -> None:
    """Kill a Lava run's whole session and wait for it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def kill_running(stop: threading.Event) -> None:
    """Set ``stop`` and kill the Lava runs started with it that are still going (the other
    groups of a check when one fails or is interrupted): each :func:`run_lava` of them
    raises, and none starts after."""
    with _LOCK:
        stop.set()
        running = [proc for proc, owner in _RUNNING.items() if owner is stop]
    for proc in running:
        _kill(proc)


@dataclass
class Agreement:
    """Fraction of equal messages per population, whether the output's state is equal at
    every step, and the fraction of equal predictions."""

    layers: dict[str, float]
    state_equal: bool
    predictions: float


def compare(pg: ProcGraph, ours: Trace, lava: Trace) -> Agreement:
    layers = {name: float(np.mean(ours.spikes[name] == lava.spikes[name])) for name in lava.spikes}
    same = np.mean(pg.predict_trace(ours) == pg.predict_trace(lava))
    return Agreement(layers, bool(np.array_equal(ours.state, lava.state)), float(same))
