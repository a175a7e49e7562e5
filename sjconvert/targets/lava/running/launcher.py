"""Launch Lava on a network file and compare what it computed with our fixed-point
simulator.

Lava needs Python 3.10 (lava-nc 0.10, lava-dl 0.6). It always runs in a subprocess
(``python -m sjconvert.targets.lava.running.in_lava``, :func:`~.in_lava.run_batched`: the
network built
once, samples back to back), in the running interpreter when it imports Lava, else
``$SJCONVERT_LAVA_PYTHON``, else ``.venv-lava/bin/python`` beside the sjconvert checkout.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ....errors import EmitError
from ..fixed_point.simulator import Trace
from ..formats.procgraph import ProcGraph

REPO = Path(__file__).resolve().parents[4]
ENV_VAR = "SJCONVERT_LAVA_PYTHON"


def lava_python() -> str:
    """The interpreter that runs Lava (see the module docstring)."""
    if importlib.util.find_spec("lava") is not None:
        return sys.executable
    candidates = [os.environ.get(ENV_VAR), str(REPO / ".venv-lava" / "bin" / "python")]
    for c in candidates:
        if c and Path(c).is_file():
            return c
    raise EmitError(
        f"Lava environment not found: set {ENV_VAR} to a Python 3.10 interpreter with "
        "lava-dl 0.6 installed, or create one with `make .venv-lava/.built` in the "
        "sjconvert checkout"
    )


def run_lava(
    path: Path, x: np.ndarray, names: list[str], progress: Callable[[int], None] | None = None
) -> Trace:
    """Run input messages ``x`` (``[T, N, *Lava shape]``) through the network file at
    ``path`` (an ``.lpg.npz`` artifact or NetX) in Lava; ``names`` are its populations in
    order. ``progress(k)`` is called as ``k`` more samples finish."""
    python = lava_python()
    with tempfile.TemporaryDirectory() as tmp:
        xin, out = Path(tmp) / "x.npz", Path(tmp) / "out.npz"
        np.savez(xin, x=x)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        }
        cmd = [
            python,
            "-m",
            "sjconvert.targets.lava.running.in_lava",
            str(path),
            str(xin),
            str(out),
        ]
        done = 0
        with subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as proc:
            assert proc.stdout is not None and proc.stderr is not None
            for line in proc.stdout:
                if line.startswith("progress ") and progress is not None:
                    now = int(line.split()[1])
                    progress(now - done)
                    done = now
            err = proc.stderr.read()
        if proc.returncode != 0:
            tail = err.strip().splitlines()[-1:] or ["(no output)"]
            raise EmitError(f"Lava run failed ({python}): {tail[0]}")
        with np.load(out) as f:
            keys = [k for k in f.files if k.startswith("spikes/")]  # in population order
            spikes = {name: f[k] for name, k in zip(names, keys, strict=True)}
            build = float(f["build_seconds"])
            return Trace(spikes, f["state"], float(f["seconds"]), {"build_seconds": build})


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
