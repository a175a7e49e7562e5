"""Conversion benchmark: accuracy vs T per mode (plain layer-wise rate norm, V[-1] = 0,
no layer calibration — see ``benchmarks.low_t`` for the default converter), calibration
and simulation cost.

Run: ``make bench`` (or ``.venv/bin/python -m benchmarks.conversion [--json out.json]``).

Per sample it prints
* ANN accuracy and SNN accuracy at T = 1, 2, 4, 8, 16, 32, 64 for each normalisation mode;
* calibration time against one plain ANN pass (the torch model) over the same data, and the
  peak memory growth of calibration with the calibration set streamed 1× and 32× (memory
  must not grow with the data) — targets: time ≤ 1.5× one ANN pass;
* simulation time of T steps against T plain ANN passes on the test set — target ≤ 1.3×.

Times are medians of repeated runs; memory is the peak RSS growth in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from samples import SAMPLE_NAMES, load
from sjconvert.exec import Simulator
from sjconvert.exec.evaluate import evaluate
from sjconvert.frontends import capture
from sjconvert.ir import nodes as ir
from sjconvert.passes import PREPARE, calibrate, relu_to_if, replace_maxpool, run_pipeline

MODES = ("max", "99.9%", "99.99%")
STEPS = (1, 2, 4, 8, 16, 32, 64)
BATCH = 256


def timed(fn: Callable[[], object], repeat: int = 3) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def peak_rss_growth_mb(sample: str, what: str, repeat: int = 1) -> float:
    """Peak resident-memory growth of one calibration ("calib") or plain ANN pass ("ann")
    over the calibration set streamed ``repeat`` times, measured in a fresh process after
    its set-up (forking a process that already runs torch threads can hang)."""
    cmd = [sys.executable, "-m", "benchmarks.conversion", "--memory", sample, what, str(repeat)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=600)
    return float(out.stdout.strip().splitlines()[-1])


def _memory_child(sample: str, what: str, repeat: int) -> None:
    model, _, calib = load(sample)
    xc = torch.tensor(calib["x"])
    graph = prepared(model, xc)
    relus = [n for n, node in graph if isinstance(node, ir.ReLU)]
    base = _reset_peak_rss()
    if what == "calib":
        calibrate(graph, batches(xc, repeat), relus)
    else:
        with torch.no_grad():
            for b in batches(xc, repeat):
                model(b)
    print((_status_kb("VmHWM") - base) / 1024)


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _reset_peak_rss() -> int:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux) and return it in kB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS")


def prepared(model: torch.nn.Module, x: torch.Tensor):
    """The captured ANN with BN folded and max pooling moved before the neurons."""
    g = run_pipeline(capture(model, x[:2]), [*PREPARE, lambda g: replace_maxpool(g, "pre")])
    return g.with_meta(maxpool="pre")


def batches(x: torch.Tensor, repeat: int = 1):
    for _ in range(repeat):
        for i in range(0, len(x), BATCH):
            yield x[i : i + BATCH]


def run(name: str) -> dict:
    model, test, calib = load(name)
    x, y = torch.tensor(test["x"]), torch.tensor(test["y"])
    xc = torch.tensor(calib["x"])

    def ann_pass(data: torch.Tensor, repeat: int = 1) -> None:
        with torch.no_grad():
            for b in batches(data, repeat):
                model(b)

    with torch.no_grad():
        ann_acc = float((model(x).argmax(1) == y).float().mean())
    graph = prepared(model, x)
    relus = [n for n, node in graph if isinstance(node, ir.ReLU)]
    reps = 4  # stream the calibration set 4× so the timings are well above timer noise
    t_ann_calib = timed(lambda: ann_pass(xc, reps), repeat=5)
    t_calib = timed(lambda: calibrate(graph, batches(xc, reps), relus), repeat=5)
    mem_ann = peak_rss_growth_mb(name, "ann")
    mem_1 = peak_rss_growth_mb(name, "calib")
    mem_32 = peak_rss_growth_mb(name, "calib", 32)
    stats = calibrate(graph, batches(xc), relus)

    modes = {}
    for mode in MODES:
        snn = relu_to_if(graph, stats, mode)
        batched = [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, len(x), BATCH)]
        res = evaluate(Simulator(snn), batched, STEPS)
        modes[mode] = {"accuracy": res.snn, "spikes_per_sample_T64": res.spikes_per_sample}
    snn = relu_to_if(graph, stats, "99.9%")
    prog = Simulator(snn)
    t_ann = timed(lambda: ann_pass(x), repeat=9)
    sim = {}
    for T in (8, 32):
        t_sim = timed(lambda T=T: [prog.run(b, T=T) for b in batches(x)], repeat=5)
        sim[T] = {"seconds": t_sim, "ann_seconds": T * t_ann, "ratio": t_sim / (T * t_ann)}
    return {
        "sample": name,
        "ann_accuracy": ann_acc,
        "modes": modes,
        "calibration": {
            "samples": reps * len(xc),
            "seconds": t_calib,
            "ann_pass_seconds": t_ann_calib,
            "ratio": t_calib / t_ann_calib,
            "peak_mb_ann_pass": mem_ann,
            "peak_mb_calib_1x": mem_1,
            "peak_mb_calib_32x": mem_32,
        },
        "simulation": sim,
        "test_samples": len(x),
    }


def render(results: list[dict], console: Console) -> None:
    acc = Table(title="SNN accuracy (%) vs time steps T, direct input, layer-wise norm")
    for col in ("sample", "mode", "ANN", *(f"T={t}" for t in STEPS), "spikes/sample @64"):
        acc.add_column(col, justify="right")
    cost = Table(title="Cost against plain ANN passes (torch model, same data, 2 CPU threads)")
    for col in ("sample", "what", "sjconvert", "ANN", "ratio", "target", "peak MB 1× / 32× / ANN"):
        cost.add_column(col, justify="right")
    for r in results:
        for mode, m in r["modes"].items():
            acc.add_row(
                r["sample"],
                mode,
                f"{100 * r['ann_accuracy']:.2f}",
                *(f"{100 * m['accuracy'][t]:.2f}" for t in STEPS),
                f"{m['spikes_per_sample_T64']:.0f}",
            )
        c = r["calibration"]
        cost.add_row(
            r["sample"],
            f"calibrate {c['samples']} samples",
            f"{c['seconds']:.3f} s",
            f"{c['ann_pass_seconds']:.3f} s",
            f"{c['ratio']:.2f}×",
            "≤ 1.5×",
            f"{c['peak_mb_calib_1x']:.1f} / {c['peak_mb_calib_32x']:.1f} / "
            f"{c['peak_mb_ann_pass']:.1f}",
        )
        for T, s in r["simulation"].items():
            cost.add_row(
                r["sample"],
                f"simulate T={T}, {r['test_samples']} samples",
                f"{s['seconds']:.3f} s",
                f"{s['ann_seconds']:.3f} s",
                f"{s['ratio']:.2f}×",
                "≤ 1.3×",
                "",
            )
    console.print(acc)
    console.print(cost)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--samples", nargs="*", default=list(SAMPLE_NAMES))
    parser.add_argument("--memory", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    if args.memory:
        _memory_child(args.memory[0], args.memory[1], int(args.memory[2]))
        return
    results = [run(name) for name in args.samples]
    render(results, Console(width=160))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
