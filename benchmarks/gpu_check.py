"""The GPU check, for the day a machine with a CUDA GPU is lent (``make gpu-check``, which
runs ``.ci/gpu-check``): everything the CPU machines cannot verify, in one JSON file.

Steps, each ``passed``, ``failed`` or ``skipped`` (with the reason) and timed:

* ``environment``: Python, torch and its CUDA, CuPy, the device;
* ``tests``: ``pytest -m "gpu or cupy"`` — the fused CUDA kernels bit for bit against the
  reference, the CuPy graph against the torch reference on the same GPU, NVRTC;
* ``parity``: :func:`sjconvert.parity` of the digits SNN on torch, NumPy and CuPy (predictions
  must agree on ≥ 99 % of the samples: GPU convolutions sum in another order); it runs
  everywhere, its CuPy row skipped without a device;
* ``benchmark``: :mod:`benchmarks.cupy_sim` on the GPU — fused neuron kernels against a
  per-step loop, agreement, whole networks against the reference on the same GPU;
* ``speed``: :mod:`benchmarks.sim_speed` on the GPU — simulation time at T = 16 against 16
  ANN passes on the same GPU, for the torch reference on CUDA and the CuPy target, default
  and plain (``neuron="if"``) conversions of the samples.

Without a CUDA device (or CuPy) the CUDA-only steps report themselves skipped, so the script
itself is checked on any machine. The JSON is rewritten after every step: a run cut short
still leaves what it finished. Run: ``python -m benchmarks.gpu_check --json out.json``.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

TEST_TIMEOUT = 200  # seconds for the pytest step; the whole check stays under 5 minutes
PARITY_SAMPLES = 128


def cuda_missing() -> str | None:
    """Why the CUDA steps cannot run here, or None."""
    if not torch.cuda.is_available():
        return "no CUDA device visible to torch"
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() == 0:
            return "CuPy sees no CUDA device"
    except ImportError:
        return "CuPy is not installed (pip install cupy-cuda12x or cupy-cuda13x)"
    except Exception as exc:  # CUDARuntimeError and the like, reported as they are
        return f"CuPy cannot use the device: {exc}"
    return None


def _version(name: str) -> str | None:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    cupy = next((v for p in ("cupy-cuda13x", "cupy-cuda12x", "cupy") if (v := _version(p))), None)
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cupy": cupy,
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "cuda_missing": cuda_missing(),
    }


def tests() -> dict[str, Any]:
    """The gpu and cupy test groups; counts from pytest's JUnit XML."""
    with tempfile.TemporaryDirectory() as tmp:
        xml = Path(tmp) / "junit.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        cmd += ["-m", "gpu or cupy", "tests", f"--junitxml={xml}"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TEST_TIMEOUT)
        suite = ET.parse(xml).getroot()
    suite = suite if suite.tag == "testsuite" else suite[0]
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    tail = proc.stdout.strip().splitlines()[-15:]
    ok = proc.returncode == 0 and counts["skipped"] == 0 and counts["tests"] > 0
    return {"status": "passed" if ok else "failed", **counts, "output_tail": tail}


def parity_step() -> dict[str, Any]:
    """The parity report of the digits SNN on the reference, NumPy and CuPy."""
    from samples import load
    from sjconvert import ann2snn, parity

    model, test, calib = load("digits")
    snn = ann2snn(model, [calib["x"][:64]]).snn
    x, y = test["x"][:PARITY_SAMPLES], test["y"][:PARITY_SAMPLES]
    report = parity(snn, [(x, y)], ["torch", "numpy", "cupy"], T=8, require="cupy.predictions=0.99")
    cupy = next(r for r in report.rows if r.backend == "cupy")
    ok = report.passed and (cupy.status == "ok" or cuda_missing() is not None)
    return {"status": "passed" if ok else "failed", "report": report.to_dict()}


def benchmark() -> dict[str, Any]:
    """benchmarks.cupy_sim on the GPU (TF32 off: float32 in both simulators)."""
    from benchmarks import cupy_sim

    torch.backends.cudnn.allow_tf32 = False
    rows = {
        "neurons": cupy_sim.neuron_rows("gpu"),
        "agreement": cupy_sim.agreement_rows("gpu"),
        "networks": cupy_sim.network_rows("gpu"),
    }
    fused = next(r for r in rows["neurons"] if "CUDA" in r["neuron update"])
    nets = [r["speed-up"] for r in rows["networks"]]
    targets = {
        "neuron_vs_per_step_loop >= 5": fused["vs per-step loop"] >= 5,
        "network_vs_reference >= 1.5 (median)": sorted(nets)[len(nets) // 2] >= 1.5,
    }
    return {"status": "passed", "targets": targets, **rows}


def speed() -> dict[str, Any]:
    """benchmarks.sim_speed on the GPU: simulation time at T=16 against 16 ANN passes on
    the same GPU, the torch reference and the CuPy target, default and plain neurons."""
    from benchmarks import sim_speed

    return {"status": "passed", "rows": sim_speed.gpu_rows()}


def run_step(fn: Callable[[], dict[str, Any]], needs_cuda: bool) -> dict[str, Any]:
    missing = cuda_missing() if needs_cuda else None
    if missing:
        return {"status": "skipped", "reason": missing}
    start = time.perf_counter()
    try:
        result = fn()
    except Exception as exc:  # a check reports every failure and goes on to the next step
        result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    return {**result, "seconds": round(time.perf_counter() - start, 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default="build/gpu_check.json", help="where to write the result")
    path = Path(ap.parse_args().json)
    path.parent.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"environment": environment(), "steps": {}}
    steps = {
        "tests": (tests, True),
        "parity": (parity_step, False),
        "benchmark": (benchmark, True),
        "speed": (speed, True),
    }
    for name, (fn, needs_cuda) in steps.items():
        print(f"gpu-check: {name} ...", flush=True)
        result["steps"][name] = run_step(fn, needs_cuda)
        status = result["steps"][name]["status"]
        print(f"gpu-check: {name} {status} {result['steps'][name].get('reason', '')}", flush=True)
        result["ok"] = all(s["status"] != "failed" for s in result["steps"].values())
        path.write_text(json.dumps(result, indent=1, default=str))
    print(f"gpu-check: {'ok' if result['ok'] else 'FAILED'}; wrote {path}")
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
