"""Simulation-graph benchmark: the cupy target's graph against the torch reference simulator.

Run: ``.venv/bin/python -m benchmarks.cupy_sim [--device cpu|gpu] [--json out.json]``.

Whole network — throughput (samples·steps/s) and peak memory growth for T = 4, 32, 128 on a
VGG-style CNN with random weights and on the two samples (converted SNNs):
* CPU: the NumPy graph (torch synapses via DLPack, NumPy neuron programs) vs the reference;
* GPU: the CuPy graph (fused neuron kernels) vs the reference on the same GPU
  (``Simulator(graph, device="cuda")``: torch synapses and whole-tensor neuron steps), both in
  float32 (TF32 off) with the same time blocks.
Neuron update alone (T = 32): the fused path (NumPy program in cache-sized chunks, or one
CUDA kernel over all steps) vs a per-step torch loop (three ops a step), and the
reference's fused torch loop. Targets (GPU): neuron ≥ 5× the per-step loop, network ≥ 1.5×
the reference. Times are medians of 3 runs after a warm-up; memory is the peak resident
set growth sampled during the run (CPU) or the allocators' peaks (GPU).
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from samples import load
from sjconvert import ann2snn
from sjconvert.exec import Simulator, with_shapes
from sjconvert.exec.arrays import Arrays, run_node, stateful
from sjconvert.ir import Graph
from sjconvert.ir import nodes as ir
from sjconvert.targets.cupy import to_cupy
from sjconvert.targets.cupy.device import launch
from sjconvert.targets.cupy.fused import FusedStateful

STEPS = (4, 32, 128)
SIZES = {
    "cpu": {"batch": 32, "width": 16, "side": 16},
    "gpu": {"batch": 256, "width": 128, "side": 32},
}


def vgg(width: int, side: int, seed: int = 0) -> Graph:
    """A VGG-style IF network with random weights: 2× (conv-IF, conv-IF, avgpool), conv-IF,
    avgpool, dense-IF, dense readout; weights scaled by 2/√fan-in so layers keep spiking."""
    r = np.random.default_rng(seed)
    nodes: dict[str, ir.Node] = {"x": ir.Input((3, side, side))}
    edges: dict[str, tuple[str, ...]] = {"x": ()}

    def add(node: ir.Node) -> None:
        name = f"l{len(nodes)}"
        edges[name], nodes[name] = (list(nodes)[-1],), node

    c = 3
    for out in (width, width, "pool", 2 * width, 2 * width, "pool", 4 * width, "pool"):
        if out == "pool":
            add(ir.AvgPool2d(2, 2, 0))
            side //= 2
            continue
        add(ir.Conv2d(r.normal(size=(out, c, 3, 3)) * 2 / np.sqrt(9 * c), None, 1, 1))
        add(ir.IF(1.0, None))
        c = int(out)
    add(ir.Flatten())
    add(ir.Linear(r.normal(size=(256, c * side * side)) * 2 / np.sqrt(c * side * side)))
    add(ir.IF(1.0, None))
    add(ir.Linear(r.normal(size=(10, 256)) / 16))
    add(ir.Readout())
    return with_shapes(Graph(nodes, edges, (list(nodes)[-1],)))  # shapes size the time blocks


def rss_growth_mb(network: str, which: str, T: int) -> float:
    """Peak resident-set growth (MB) of one run, in a fresh process after its set-up."""
    cmd = [sys.executable, "-m", "benchmarks.cupy_sim", "--memory", network, which, str(T)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=900)
    return float(out.stdout.strip().splitlines()[-1])


def _memory_child(network: str, which: str, T: int) -> None:
    graph, x = networks("cpu", only=network)[network]
    run = (
        partial(Simulator(graph).snn, torch.from_numpy(x), T=T)
        if which == "reference"
        else partial(to_cupy(graph, "numpy").run, x, T=T)
    )
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    before = _status_kb("VmRSS")
    run()
    print((_status_kb("VmHWM") - before) / 1024)


def _status_kb(key: str) -> int:
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(key))
    return int(line.split()[1])


def gpu_peak(fn: Callable[[], Any]) -> float:
    """Peak device memory (MB) of ``fn``: torch's allocator plus CuPy's pool."""
    import cupy

    pool = cupy.get_default_memory_pool()
    pool.free_all_blocks()
    torch.cuda.reset_peak_memory_stats()
    fn()
    cupy.cuda.Device().synchronize()
    return (torch.cuda.max_memory_allocated() + pool.total_bytes()) / 2**20


def fastest(fns: dict[str, Callable[[], Any]], gpu: bool, repeat: int = 3) -> dict[str, float]:
    """Fastest of ``repeat`` runs of each function after a warm-up, the functions taking
    turns (the minimum is the estimate least disturbed by other work on a shared machine)."""
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    best = dict.fromkeys(fns, float("inf"))
    for i in range(repeat + 1):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            sync()
            if i:
                best[name] = min(best[name], time.perf_counter() - t)
    return best


@functools.cache
def networks(device: str, only: str | None = None) -> dict[str, tuple[Graph, np.ndarray]]:
    """The networks of the tables (converted once per process)."""
    size = SIZES[device]
    vgg_name = f"VGG w={size['width']} {size['side']}²"
    out = {}
    if only in (None, vgg_name):
        shape = (size["batch"], 3, size["side"], size["side"])
        x = np.random.default_rng(1).uniform(0, 1, shape).astype(np.float32)
        out[vgg_name] = (vgg(size["width"], size["side"]), x)
    for name in ("digits", "mnist1d"):
        if only in (None, name):
            model, test, calib = load(name)
            snn = ann2snn(model, [calib["x"][:256]]).snn
            out[name] = (snn, test["x"][:256].astype(np.float32))
    return out


def network_rows(device: str) -> list[dict[str, Any]]:
    gpu = device == "gpu"
    rows = []
    for name, (graph, x) in networks(device).items():
        ours = to_cupy(graph, "cupy" if gpu else "numpy")
        ref = Simulator(graph, device="cuda" if gpu else "cpu")
        xo, xt = ours.xp.asarray(x), torch.from_numpy(x).to(ref.device)
        block = ours.block(x.shape[0])  # the same time blocks for both
        for T in STEPS:
            runs = {
                "reference": partial(ref.snn, xt, T=T, block=block),
                "graph": partial(ours.run, xo, T=T),
            }
            sec = fastest(runs, gpu)
            n = x.shape[0] * T
            if gpu:
                mem = {k: gpu_peak(fn) for k, fn in runs.items()}
            else:
                mem = {k: rss_growth_mb(name, k, T) for k in runs}
            rows.append(
                {
                    "network": name,
                    "T": T,
                    "batch": x.shape[0],
                    "reference": n / sec["reference"],
                    "graph": n / sec["graph"],
                    "speed-up": sec["reference"] / sec["graph"],
                    "reference MB": mem["reference"],
                    "graph MB": mem["graph"],
                }
            )
    return rows


def neuron_rows(device: str, T: int = 32) -> list[dict[str, Any]]:
    """One IF layer [batch, 64, 16, 16] (soft reset), all T steps."""
    gpu = device == "gpu"
    shape = (SIZES[device]["batch"], 64, 16, 16)
    node = ir.IF(1.0, None)
    x = np.random.default_rng(0).uniform(0, 0.5, (T, *shape)).astype(np.float32)
    xt = torch.from_numpy(x).cuda() if gpu else torch.from_numpy(x)

    def per_step() -> None:
        v = torch.zeros_like(xt[0])
        for t in range(T):
            v = v + xt[t]
            s = (v >= 1.0).to(v.dtype)
            v = v - s

    layer = stateful(node, Arrays(np, np.dtype(np.float32)))
    runs: dict[str, Callable[[], Any]] = {"per-step torch loop": per_step}
    if gpu:
        import cupy

        fused = FusedStateful(node, Arrays(cupy, np.dtype(np.float32)), launch)
        xc = cupy.asarray(x)
        runs["fused CUDA kernel (CuPy)"] = lambda: fused(xc, T, False, None)
    else:
        runs["reference fused torch loop"] = lambda: run_node(node, xt, T, static=False)
        runs["fused NumPy program"] = lambda: layer(x, T, False, None)
    times = fastest(runs, gpu)
    base = times["per-step torch loop"]
    out = []
    for name, s in times.items():
        out.append(
            {
                "neuron update": name,
                "T": T,
                "neurons": int(np.prod(shape)),
                "ms": 1e3 * s,
                "vs per-step loop": base / s,
            }
        )
    return out


def agreement_rows(device: str, T: int = 32) -> list[dict[str, Any]]:
    """Each graph variant against the float32 reference on the samples (256 test inputs)."""
    backend = "cupy" if device == "gpu" else "numpy"
    variants = ["float32", "float16"]
    rows = []
    for name, (graph, x) in list(networks(device).items())[1:]:
        x = x.astype(np.float32)
        ref = Simulator(graph).run(torch.from_numpy(x), T=T)
        for dtype in variants:
            res = to_cupy(graph, backend, dtype).run(x, T=T)
            out, want = res.output.float(), ref.output
            total, want_total = sum(res.spikes.values()), sum(ref.spikes.values())
            rows.append(
                {
                    "network": name,
                    "graph": f"{backend} {dtype}",
                    "max |Δ output|": float((out - want).abs().max()),
                    "÷ max |output|": float((out - want).abs().max() / want.abs().max()),
                    "same prediction %": 100
                    * float((out[-1].argmax(-1) == want[-1].argmax(-1)).float().mean()),
                    "spike count Δ %": 100 * (total - want_total) / want_total,
                    "spikes identical": res.spikes == ref.spikes,
                }
            )
    return rows


def _fmt(v: Any) -> str:
    if not isinstance(v, float):
        return str(v)
    return f"{v:,.2f}" if v == 0 or abs(v) >= 0.01 else f"{v:.1e}"


def table(rows: list[dict[str, Any]], title: str) -> Table:
    t = Table(title=title)
    for key in rows[0]:
        t.add_column(key, justify="left" if isinstance(rows[0][key], str) else "right")
    for row in rows:
        t.add_row(*(_fmt(v) for v in row.values()))
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    ap.add_argument("--json", help="also write the rows to this file")
    ap.add_argument("--memory", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory:
        _memory_child(args.memory[0], args.memory[1], int(args.memory[2]))
        return
    device = args.device
    if device == "auto":
        device = "gpu" if torch.cuda.is_available() else "cpu"
    torch.backends.cudnn.allow_tf32 = False  # float32 in both simulators
    console = Console(width=160)
    console.print(
        f"device: {torch.cuda.get_device_name() if device == 'gpu' else 'CPU'}, "
        f"torch threads {torch.get_num_threads()}"
    )
    neurons = neuron_rows(device)
    console.print(table(neurons, "neuron update alone"))
    agreement = agreement_rows(device)
    console.print(table(agreement, "agreement with the float32 reference at T=32"))
    nets = network_rows(device)
    console.print(table(nets, "whole network (samples·steps/s)"))
    if args.json:
        rows = {"neurons": neurons, "agreement": agreement, "networks": nets}
        Path(args.json).write_text(json.dumps({"device": device, **rows}, indent=1))


if __name__ == "__main__":
    main()
