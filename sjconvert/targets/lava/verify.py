"""LavaAgreement of a NetX network between Lava's simulator and our fixed-point simulator.

Lava needs Python 3.10 (lava-nc 0.10, lava-dl 0.6). When the running interpreter cannot
import it, Lava runs in a subprocess of the Lava environment: ``$SJCONVERT_LAVA_PYTHON``,
else ``.venv-lava/bin/python`` beside the sjconvert checkout.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import EmitError
from .fixed_point import VTH_MAX, FixedPointResult, LoihiNet

REPO = Path(__file__).resolve().parents[3]
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


def run_lava(path: Path, x: np.ndarray, steps: int) -> FixedPointResult:
    """Run integer input messages ``x`` ``[T', N, ...]`` through the NetX file in Lava (in
    a subprocess of the Lava environment)."""
    python = lava_python()
    with tempfile.TemporaryDirectory() as tmp:
        xin, out = Path(tmp) / "x.npz", Path(tmp) / "out.npz"
        np.savez(xin, x=x)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        }
        cmd = [python, "-m", "sjconvert.targets.lava.run", str(path), str(xin), str(out)]
        proc = subprocess.run(
            [*cmd, "--steps", str(steps)], env=env, capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["(no output)"]
            raise EmitError(f"Lava run failed ({python}): {tail[0]}")
        with np.load(out) as f:
            n = sum(k.startswith("spikes_") for k in f.files)
            spikes = {str(i): f[f"spikes_{i}"] for i in range(n)}
            return FixedPointResult(spikes, f["voltage"], float(f["seconds"]))


def predict(net: LoihiNet, res: FixedPointResult) -> np.ndarray:
    """Class per sample: the final sigma plus its offset (sigma output), the readout's final
    voltage (CUBA integrator), else the output spike counts."""
    last = net.layers[-1]
    if last.neuron == "sigma":
        offset = 0 if last.bias is None else np.asarray(last.bias)
        return (res.voltage[-1] + offset).reshape(res.voltage.shape[1], -1).argmax(-1)
    if last.vth == VTH_MAX:
        return res.voltage[-1].reshape(res.voltage.shape[1], -1).argmax(-1)
    return res.counts.reshape(res.counts.shape[0], -1).argmax(-1)


@dataclass
class LavaAgreement:
    """Spike agreement per layer (fraction of equal entries) and predictions agreement."""

    layers: dict[str, float]
    voltage_equal: bool
    predictions_equal: float


def compare(net: LoihiNet, ours: FixedPointResult, lava: FixedPointResult) -> LavaAgreement:
    layers = {
        layer.name: float(np.mean(mine == theirs))
        for layer, mine, theirs in zip(
            net.layers, ours.spikes.values(), lava.spikes.values(), strict=True
        )
    }
    same = float(np.mean(predict(net, ours) == predict(net, lava)))
    return LavaAgreement(layers, bool(np.array_equal(ours.voltage, lava.voltage)), same)
