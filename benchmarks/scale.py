"""Scaling benchmark: calibration and evaluation throughput with 1 and 2 processes (gloo,
this machine), against the same work in one process.

Run: ``python -m benchmarks.scale [--json docs/benchmark_scale.json]``. For each sample it
times, through the CLI as a user would (``torchrun``-style environment for 2 processes):

* calibration — ``ann2snn -T 0`` (one streaming pass of mergeable histograms; the low-T
  stage is measured in ``benchmarks.low_t``) over the calibration set repeated ``--repeat``
  times;
* evaluation — ``simulate -T 32`` over the test set.

It checks that the 2-process results equal the 1-process ones (the same network file
digest, the same accuracies) and reports samples per second. Start-up (Python, torch
import, joining the group) is measured separately and subtracted. The NCCL/GPU path is
``SJCONVERT_DIST_BACKEND=nccl`` under torchrun on a GPU machine (not measured here).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from samples import SAMPLE_NAMES, SAMPLES_DIR
from sjconvert.ir import load

ROOT = Path(__file__).resolve().parents[1]
ARCH = {
    "digits": ("digits_cnn.pt", "samples.models:DigitsCNN"),
    "mnist1d": ("mnist1d_rescnn.pt", "samples.models:ResCNN1d"),
    "digits16": ("vgg_digits16.pt", "samples.models:VGGDigits16"),
}


def _port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def run(args: list[str], procs: int, threads: int) -> tuple[float, list[str]]:
    """Wall seconds and stdout of each process for one CLI command on ``procs`` processes."""
    port, env0 = _port(), {**os.environ, "PYTHONPATH": str(ROOT)}
    env0["OMP_NUM_THREADS"] = str(threads)
    start = time.perf_counter()
    popen = []
    for rank in range(procs):
        env = dict(env0)
        if procs > 1:
            env.update(
                RANK=str(rank),
                WORLD_SIZE=str(procs),
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=port,
                LOCAL_RANK=str(rank),
            )
        cmd = [sys.executable, "-m", "sjconvert", *args]
        popen.append(subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True))
    outs = [p.communicate()[0] for p in popen]
    if any(p.returncode for p in popen):
        raise RuntimeError(f"{args[0]} failed on {procs} process(es)")
    return time.perf_counter() - start, outs


def bench(sample: str, repeat: int, tmp: Path) -> list[dict]:
    ckpt, arch = ARCH[sample]
    calib = np.load(SAMPLES_DIR / f"{sample}_calib.npz")
    big = tmp / f"{sample}_calib_x{repeat}.npz"
    np.savez(big, x=np.concatenate([calib["x"]] * repeat))
    n_calib, n_test = (
        len(calib["x"]) * repeat,
        len(np.load(SAMPLES_DIR / f"{sample}_test.npz")["x"]),
    )
    startup, _ = run(["--help"], 1, 2)
    rows, digests = [], {}
    for procs, threads in ((1, 2), (2, 1)):
        out = tmp / f"{sample}_{procs}.sjir"
        conv = [
            "ann2snn",
            str(SAMPLES_DIR / ckpt),
            "--arch",
            arch,
            "--calib",
            str(big),
            "-T",
            "0",
            "-o",
            str(out),
            "--json",
            "--batch-size",
            "128",
        ]
        t_conv, _ = run(conv, procs, threads)
        sim = [
            "simulate",
            str(out),
            "--data",
            str(SAMPLES_DIR / f"{sample}_test.npz"),
            "-T",
            "32",
            "--json",
            "--batch-size",
            "64",
        ]
        t_sim, outs = run(sim, procs, threads)
        digests[procs] = (load(out).fingerprint(), json.loads(outs[0])["snn"])
        for what, secs, n in (("calibration", t_conv, n_calib), ("evaluation T=32", t_sim, n_test)):
            work = max(secs - startup, 1e-3)
            rows.append(
                {
                    "sample": sample,
                    "what": what,
                    "processes": procs,
                    "threads_each": threads,
                    "samples": n,
                    "seconds": secs,
                    "startup_seconds": startup,
                    "samples_per_second": n / work,
                }
            )
    same = digests[1] == digests[2]
    for r in rows:
        r["equal_to_one_process"] = same
    return rows


def render(rows: list[dict], console: Console) -> None:
    t = Table(title="sharded runs: 1 process × 2 threads vs 2 processes × 1 thread (gloo)")
    for col in ("sample", "what", "processes", "samples", "seconds", "samples/s", "equal"):
        t.add_column(col, justify="left" if col in ("sample", "what") else "right")
    for r in rows:
        t.add_row(
            r["sample"],
            r["what"],
            str(r["processes"]),
            str(r["samples"]),
            f"{r['seconds']:.1f}",
            f"{r['samples_per_second']:.0f}",
            "yes" if r["equal_to_one_process"] else "NO",
        )
    console.print(t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", nargs="*", default=list(SAMPLE_NAMES))
    parser.add_argument("--repeat", type=int, default=8, help="calibration set repetitions")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [r for s in args.samples for r in bench(s, args.repeat, Path(tmp))]
    render(rows, Console())
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "cores": os.cpu_count()}, indent=1))


if __name__ == "__main__":
    main()
