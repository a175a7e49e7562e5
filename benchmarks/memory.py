"""Peak memory of a simulation against T (issue 26): flat from T = 64 to T = 65,536.

Each run is a fresh process (``python -m benchmarks.memory --one T``) that converts nothing:
it loads the digits SNN converted once (``build/memory_digits.sjir``), simulates ``--n``
test samples for T steps through the API behind ``sjconvert simulate``
(:func:`sjconvert.simulate`, accuracy at T) and reports its peak resident set
(``ru_maxrss``) and the estimate :func:`sjconvert.exec.memory.estimate` made beforehand.
``--baseline DIR`` runs the same with the package in ``DIR`` (e.g. a checkout before the
change) where it fits. ``python -m benchmarks.memory --json docs/benchmark_memory.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

STEPS = (64, 256, 1024, 4096, 16384, 65536)
SNN = Path("build/memory_digits.sjir")


def one(T: int, n: int) -> dict[str, Any]:
    """Simulate in this process and report (printed as JSON)."""
    package = os.environ.get("SJCONVERT_BENCH_PACKAGE")
    if package:  # the package to measure goes before this checkout's
        sys.path.insert(0, package)
    import numpy as np

    import sjconvert

    snn = sjconvert.load(str(SNN))
    test = dict(np.load(Path("samples") / "digits_test.npz"))
    x, y = test["x"][:n].astype(np.float32), test["y"][:n]
    out: dict[str, Any] = {
        "T": T,
        "samples": n,
        "package": "baseline" if package else "this checkout",
    }
    try:
        from sjconvert.exec.memory import estimate

        out["estimate_mb"] = round(estimate(snn, n, T, (T,)) / 2**20, 1)
    except ImportError:  # a baseline without the estimate
        pass
    start = time.perf_counter()
    ev = sjconvert.simulate(snn, [(x, y)], T=[T])
    out["seconds"] = round(time.perf_counter() - start, 2)
    out["accuracy"] = ev.snn[T]
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def spawn(T: int, n: int, package: Path | None, limit_s: int) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(Path.cwd()), SJCONVERT_BENCH_PACKAGE=str(package or ""))
    cmd = [sys.executable, "-m", "benchmarks.memory", "--one", str(T), "--n", str(n)]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=limit_s)
    except subprocess.TimeoutExpired:
        return {"T": T, "error": f"not finished in {limit_s} s"}
    if done.returncode != 0:
        return {"T": T, "error": (done.stderr.strip().splitlines() or ["?"])[-1][:200]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def convert() -> None:
    """The digits SNN, converted once (default options) for every run."""
    import sjconvert
    from samples import load

    model, _, calib = load("digits")
    SNN.parent.mkdir(exist_ok=True)
    sjconvert.save(str(SNN), sjconvert.ann2snn(model, [calib["x"][:256]]).snn)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--one", type=int, default=None)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--steps", type=int, nargs="*", default=list(STEPS))
    ap.add_argument("--baseline", type=Path, default=None)
    ap.add_argument("--baseline-max-T", type=int, default=1024)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    if args.one is not None:
        print(json.dumps(one(args.one, args.n)))
        return
    convert()
    rows = []
    for T in args.steps:
        row = {"T": T, "now": spawn(T, args.n, None, 3600)}
        if args.baseline is not None and args.baseline_max_T >= T:
            row["baseline"] = spawn(T, args.n, args.baseline, 3600)
        rows.append(row)
        print(json.dumps(row))
    if args.json:
        meta = {"samples": args.n, "load": os.getloadavg(), "baseline": str(args.baseline)}
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
