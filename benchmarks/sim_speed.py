"""Simulation time per T against T ANN passes (the dense limit), issue 23.

For every trained zoo model listed in ``ZOO/zoo.json`` and the sample ANNs, on ``--n`` test
samples at ``T`` steps, in one process and alternated ``--repeats`` times (the best of each):

* ``ann``: T forward passes of the torch ANN as trained (eval mode, NCHW), and
  ``ann_cl``: the same in channels-last memory format (oneDNN's faster layout);
* ``default``: ``sjconvert.run`` of the default conversion (signed neurons with bursts);
* ``plain``: ``sjconvert.run`` of the plain conversion (``neuron="if"``);
* ``spikingjelly``: SpikingJelly 2.0's own conversion of the ANN
  (``FXConverter(RateCodingRecipe(mode="max"))``) run T steps, single-step mode as the
  converter returns it and multi-step mode (``[T, N, ...]`` at once); the faster is kept.

Every figure uses ``--threads`` torch threads and is the process's CPU time (with one
thread, the work done, which other processes on a shared machine disturb far less than the
wall clock; ``--clock wall`` for the wall clock). Ratios are against ``ann``. Run in the
interop environment (torchvision, SpikingJelly)::

    python -m benchmarks.sim_speed --zoo build/zoo --json docs/benchmark_sim_speed.json
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from torch import nn

SAMPLES = ("digits", "mnist1d", "digits16")


def models(zoo: Path | None, names: list[str] | None) -> list[str]:
    """The zoo models trained into ``zoo`` and the sample ANNs (or ``names``)."""
    found = list(SAMPLES)
    if zoo is not None and (zoo / "zoo.json").exists():
        found = sorted(json.loads((zoo / "zoo.json").read_text())) + found
    return [m for m in found if names is None or m in names]


def load(name: str, zoo: Path | None) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    """(model, test inputs, calibration inputs)."""
    if name in SAMPLES:
        from samples import load as load_sample

        model, test, calib = load_sample(name)
    else:
        from samples.zoo import load as load_zoo

        model, test, calib = load_zoo(name, zoo)
    return model.eval(), torch.from_numpy(test["x"]), torch.from_numpy(calib["x"])


def spikingjelly(model: nn.Module, calib: torch.Tensor) -> nn.Module:
    """SpikingJelly 2.0's conversion of ``model`` (its default rate-coding recipe)."""
    from spikingjelly.activation_based import ann2snn

    batches = [(calib[i : i + 128], torch.zeros(0)) for i in range(0, len(calib), 128)]
    recipe = ann2snn.RateCodingRecipe(dataloader=batches, mode="max")
    with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ann2snn.FXConverter(recipe=recipe, device="cpu").convert(copy.deepcopy(model))


def relu6_as_relu(model: nn.Module) -> nn.Module | None:
    """A copy of ``model`` with every ReLU6 a ReLU (the same work per step; SpikingJelly's
    recipe refuses ReLU6), or None where it has none."""
    copied = copy.deepcopy(model)
    found = [(n, m) for n, m in copied.named_modules() if isinstance(m, nn.ReLU6)]
    for name, _ in found:
        parent, _, leaf = name.rpartition(".")
        setattr(copied.get_submodule(parent) if parent else copied, leaf, nn.ReLU())
    return copied if found else None


def sj_runners(snn: nn.Module, x: torch.Tensor, T: int) -> dict[str, Callable[[], Any]]:
    """SpikingJelly's simulation in single-step and multi-step mode."""
    from spikingjelly.activation_based import functional

    single, multi = snn, copy.deepcopy(snn)
    functional.set_step_mode(multi, "m")
    seq = x.unsqueeze(0).expand(T, *x.shape).contiguous()

    def run_single() -> None:
        functional.reset_net(single)
        for _ in range(T):
            single(x)

    def run_multi() -> None:
        functional.reset_net(multi)
        multi(seq)

    return {"spikingjelly_single": run_single, "spikingjelly_multi": run_multi}


def runners(name: str, zoo: Path | None, n: int, T: int) -> dict[str, Callable[[], Any]]:
    """Everything timed for one model, by name."""
    import sjconvert

    model, test, calib = load(name, zoo)
    x = test[:n]
    out: dict[str, Callable[[], Any]] = {}
    cl = copy.deepcopy(model).to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x

    def ann(m: nn.Module, xs: torch.Tensor) -> Callable[[], Any]:
        return lambda: [m(xs) for _ in range(T)]

    out["ann"], out["ann_cl"] = ann(model, x), ann(cl, x_cl)
    data = [calib[:512]]
    for label, opts in (("default", {}), ("plain", {"neuron": "if"})):
        snn = sjconvert.ann2snn(model, data, **opts).snn
        sim = sjconvert.Simulator(snn)
        out[label] = lambda sim=sim: sim.run(x, T=T, keep=(T,))
    try:
        out.update(sj_runners(spikingjelly(model, calib[:512]), x, T))
    except Exception as exc:  # recorded: SpikingJelly refuses some models
        out["spikingjelly_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
        relu = relu6_as_relu(model)
        with contextlib.suppress(Exception):  # timed with ReLU in its place, labelled
            out.update(sj_runners(spikingjelly(relu, calib[:512]), x, T) if relu else {})
            out["spikingjelly_error"] = "ReLU6 as ReLU (SpikingJelly refuses ReLU6)"
    return out


@torch.no_grad()
def measure(fns: dict[str, Any], repeats: int, clock: Callable[[], float]) -> dict[str, float]:
    """The best of ``repeats`` times per runner on ``clock``, alternated (one warm run of
    each first)."""
    for f in fns.values():
        f()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for k, f in fns.items():
            t = clock()
            f()
            best[k] = min(best[k], clock() - t)
    return best


def row(name: str, times: dict[str, float], error: str | None) -> dict[str, Any]:
    ann = times["ann"]
    sj = min((v for k, v in times.items() if k.startswith("spikingjelly")), default=None)
    out = {"model": name, "seconds": {k: round(v, 4) for k, v in times.items()}}
    out["ratio"] = {k: round(v / ann, 3) for k, v in times.items()}
    if sj is not None:
        out["ratio"]["spikingjelly"] = round(sj / ann, 3)
    if error:
        out["spikingjelly_note" if sj is not None else "spikingjelly_error"] = error
    return out


def table(rows: list[dict[str, Any]], T: int, threads: int) -> Table:
    t = Table(title=f"simulation time at T={T} ÷ {T} ANN passes (torch threads: {threads})")
    for col in ("model", "default", "plain", "SpikingJelly", "ANN channels-last", "ANN s"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        ratio = r["ratio"]
        sj = ratio.get("spikingjelly")
        t.add_row(
            r["model"],
            f"{ratio['default']:.2f}×",
            f"{ratio['plain']:.2f}×",
            f"{sj:.2f}×{'*' if 'spikingjelly_note' in r else ''}"
            if sj is not None
            else r.get("spikingjelly_error", "—")[:40],
            f"{ratio['ann_cl']:.2f}×",
            f"{r['seconds']['ann']:.2f}",
        )
    return t


def gpu_runners(name: str, zoo: Path | None, n: int, T: int) -> dict[str, Callable[[], Any]]:
    """On a CUDA device: T ANN passes, and both conversions in the torch reference on the
    GPU and in the CuPy target (fused CUDA neuron kernels)."""
    import cupy

    import sjconvert
    from sjconvert.targets.cupy import to_cupy

    model, test, calib = load(name, zoo)
    x = test[:n].cuda()
    x_cupy = cupy.asarray(test[:n].numpy())
    gpu = copy.deepcopy(model).cuda()
    out: dict[str, Callable[[], Any]] = {"ann": lambda: [gpu(x) for _ in range(T)]}
    for label, opts in (("default", {}), ("plain", {"neuron": "if"})):
        snn = sjconvert.ann2snn(model, [calib[:512]], **opts).snn
        ref, arr = sjconvert.Simulator(snn, device="cuda"), to_cupy(snn, "cupy")
        out[f"{label}_torch"] = lambda ref=ref: ref.run(x, T=T, keep=(T,))
        out[f"{label}_cupy"] = lambda arr=arr: arr.run_arrays(x_cupy, T=T, keep=(T,))
    return out


def cuda_clock() -> float:
    """The wall clock after every queued GPU operation has finished."""
    import cupy

    torch.cuda.synchronize()
    cupy.cuda.Device().synchronize()
    return time.perf_counter()


def gpu_rows(
    names: tuple[str, ...] = SAMPLES, zoo: Path | None = None, n: int = 256, T: int = 16
) -> list[dict[str, Any]]:
    """The GPU table (``make gpu-check``): ratios to T ANN passes on the same GPU."""
    torch.backends.cudnn.allow_tf32 = False
    rows = []
    for name in names:
        times = measure(gpu_runners(name, zoo, n, T), 3, cuda_clock)
        rows.append(row(name, times, None))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zoo", type=Path, default=None)
    ap.add_argument("--models", nargs="*", default=None)
    ap.add_argument("-T", type=int, default=16)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(args.threads)
    rows = []
    load_before = os.getloadavg()
    for name in models(args.zoo, args.models):
        fns = runners(name, args.zoo, args.n, args.T)
        error = fns.pop("spikingjelly_error", None)
        rows.append(row(name, measure(fns, args.repeats, clock), error))
        rows[-1]["load_average"] = os.getloadavg()
        Console().print(table(rows[-1:], args.T, args.threads))
        if args.json:  # after every model: a long run keeps what it measured
            write(args, rows, load_before)
    Console().print(table(rows, args.T, args.threads))


def write(args: argparse.Namespace, rows: list[dict[str, Any]], load_before: Any) -> None:
    """The JSON of ``rows`` with how they were measured (the load average before and now)."""
    meta = {
        "T": args.T,
        "samples": args.n,
        "threads": args.threads,
        "repeats": args.repeats,
        "clock": args.clock,
        "torch": torch.__version__,
        "load_average": {"before": load_before, "after": os.getloadavg()},
        "numpy": np.__version__,
    }
    done = {r["model"] for r in rows}
    if args.json.exists():  # rows of other models measured before are kept, with their load
        before = json.loads(args.json.read_text())
        rows = [r for r in before["rows"] if r["model"] not in done] + rows
    args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
