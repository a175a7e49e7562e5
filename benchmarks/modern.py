"""Modern architectures (issue 22): the default conversion of the trained modern zoo
(``samples.zoo.models.MODERN``: ViT, Swin, Swin V2, ConvNeXt, MaxViT, EfficientNet-B0,
MobileNetV3-Small, RegNetY-400MF) at every T from 1 to 64, against the ANN and SpikingJelly
2.0, with the share of operations that is spike-driven, the conversion cost in ANN passes
and the simulation cost against the dense limit.

Run::

    python -m benchmarks.modern --zoo DIR [--models vit_shapes32 ...] [--json FILE] [--no-sj]
    python -m benchmarks.modern --zoo DIR --models vit_shapes32 --sim-cost   # speed alone
    python -m benchmarks.modern --markdown FILE      # the tables of docs/transformers.md

Per model: the whole test split (1000 shapes, 360 digits), the 512-sample calibration
split; ``ann2snn`` with its defaults (what ``sjconvert ann2snn`` does); one simulation of
64 steps gives every T. Accuracy must be within 1 point of the ANN from T = 8, within 3 at
T = 4, and monotone in T within 2 test samples (the largest drop from any T to a later one
is reported in samples). Conversion: its CPU time over one ANN pass on the calibration
samples (target ≤ 30). Simulation: the 64-step run's time over 64 ANN passes on the test samples,
measured in the same process right after it (the dense limit, non-spiking ops included;
target ≤ 1.2), on the CPU-time clock; and, as ``simulation_cost``, the same for one batch
of 100 samples alternated with the dense limit, best of 3 (``--sim-cost``: that alone,
with the conversion's ANN passes, for a quick check of both costs). SpikingJelly
(:mod:`benchmarks.modern_spikingjelly`): STA's spiking encoder at T = 1, 2, 4, …, 64 where
it converts the model, and every CNN recipe.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sjconvert import ann2snn, simulate

STEPS = tuple(range(1, 65))
SJ_STEPS = (1, 2, 4, 8, 16, 32, 64)
BATCH = 100
ROOT = Path(__file__).resolve().parents[1]


def _batches(data: dict) -> list[tuple[torch.Tensor, torch.Tensor]]:
    x, y = torch.as_tensor(data["x"]), torch.as_tensor(data["y"])
    return [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, len(x), BATCH)]


def ann_seconds(
    model: nn.Module, batches: list[torch.Tensor], clock: Any = time.perf_counter
) -> float:
    """One ANN pass over ``batches`` on ``clock``."""
    with torch.no_grad():
        model(batches[0][:4])
        start = clock()
        for x in batches:
            model(x)
    return clock() - start


def simulation_cost(
    model: nn.Module, snn: Any, test: dict, n: int, T: int, repeats: int
) -> dict[str, Any]:
    """The simulation alone against the dense limit, in one process and alternated: ``T``
    steps of ``n`` test samples (every step kept, as ``simulate`` keeps them) against ``T``
    ANN passes, each the best of ``repeats`` on the process's CPU-time clock (one thread:
    the work done, which other processes disturb far less than the wall clock)."""
    from sjconvert.exec.reference import Simulator

    x = torch.as_tensor(test["x"][:n])
    sim = Simulator(snn)
    sim.run(x[:2], T=2)
    best = {"simulate": float("inf"), "dense": float("inf")}
    for _ in range(repeats):
        start = time.process_time()
        sim.run(x, T=T)
        best["simulate"] = min(best["simulate"], time.process_time() - start)
        dense = T * ann_seconds(model, [x], time.process_time)
        best["dense"] = min(best["dense"], dense)
    return {
        "samples": n,
        "steps": T,
        "repeats": repeats,
        "simulate_cpu_seconds": best["simulate"],
        "dense_limit_cpu_seconds": best["dense"],
        "simulate_over_dense": best["simulate"] / best["dense"],
        "load_average": list(os.getloadavg()),
    }


def largest_drop(acc: dict[int, float], n: int) -> int:
    """The largest fall of the accuracy from any T to a later one, in test samples."""
    worst, best = 0, -1.0
    for t in sorted(acc):
        best = max(best, acc[t])
        worst = max(worst, round((best - acc[t]) * n))
    return worst


def converted(model: nn.Module, calib: dict) -> tuple[Any, dict[str, float]]:
    """The default conversion on the calibration split (batches of 128), and its cost: the
    wall and CPU seconds, and the CPU seconds over one ANN pass on the same samples (on the
    CPU-time clock, as the simulation: other processes disturb it far less)."""
    xc = torch.as_tensor(calib["x"])
    cal = [xc[i : i + 128] for i in range(0, len(xc), 128)]
    wall, cpu = time.perf_counter(), time.process_time()
    conv = ann2snn(model, cal)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    ann = ann_seconds(model, cal, time.process_time)
    return conv, {"seconds": wall, "cpu_seconds": cpu, "ann_passes": cpu / ann}


def ours(model: nn.Module, calib: dict, test: dict, repeats: int = 3) -> dict[str, Any]:
    """The default conversion, its accuracy and cost at every T, and its timings
    (``simulation_cost`` best of ``repeats``; none for 0)."""
    conv, convert = converted(model, calib)
    data = _batches(test)
    cpu = time.process_time()
    res = simulate(conv.snn, data, T=list(STEPS), ann=conv.ann)
    cpu = time.process_time() - cpu
    dense = max(STEPS) * ann_seconds(model, [x for x, _ in data], time.process_time)
    n = res.samples
    acc = {t: res.snn[t] for t in STEPS}
    cost = res.cost
    return {
        "ann": res.ann,
        "accuracy": {str(t): a for t, a in acc.items()},
        "largest_drop_samples": largest_drop(acc, n),
        "spike_driven": {str(t): cost.spike_driven(t) for t in STEPS},
        "spikes_per_sample": {str(t): cost.spikes[t] for t in SJ_STEPS},
        "workload": cost.work.to_dict(),
        "convert_seconds": convert["seconds"],
        "convert_cpu_seconds": convert["cpu_seconds"],
        "convert_ann_passes": convert["ann_passes"],
        "simulate_seconds": res.seconds,
        "simulate_cpu_seconds": cpu,
        "dense_limit_cpu_seconds": dense,
        "simulate_over_dense": cpu / dense,
        "simulation_cost": simulation_cost(model, conv.snn, test, BATCH, max(STEPS), repeats)
        if repeats
        else None,
        "test_samples": n,
    }


def run_model(
    name: str,
    zoo: Path,
    with_sj: bool,
    sj_steps: tuple[int, ...],
    old: dict | None = None,
    repeats: int = 3,
) -> dict[str, Any]:
    """One model: ours (kept from ``old`` where given: ``--sj-only``) and SpikingJelly's."""
    from benchmarks import modern_spikingjelly as sj
    from samples.zoo import load
    from samples.zoo.models import MODERN, MODERN_TUNE

    model, test, calib = load(name, zoo)
    entry = MODERN[name]
    out = {
        "arch": entry.arch,
        "dataset": entry.dataset,
        "group": "tune" if name in MODERN_TUNE else "held_out",
        "ours": old["ours"] if old else ours(model, calib, test, repeats),
    }
    o = out["ours"]
    print(
        f"{name}: ANN {o['ann']:.4f}; "
        + " ".join(f"T{t}={o['accuracy'][str(t)]:.4f}" for t in SJ_STEPS)
        + f"; drop {o['largest_drop_samples']} samples; convert {o['convert_ann_passes']:.1f}"
        f" ANN passes; simulate {o['simulate_over_dense']:.2f}× dense",
        flush=True,
    )
    if with_sj:
        out["spikingjelly_sta"] = sj.sta(model, calib, test, sj_steps)
        if "vit" not in name:
            out["spikingjelly_cnn"] = sj.cnn_recipes(model, calib, test)
    return out


def sim_cost_only(name: str, zoo: Path, repeats: int) -> dict[str, Any]:
    """``--sim-cost``: convert with the defaults, then :func:`simulation_cost` alone."""
    from samples.zoo import load

    model, test, calib = load(name, zoo)
    conv, convert = converted(model, calib)
    cost = simulation_cost(model, conv.snn, test, BATCH, max(STEPS), repeats)
    cost["convert_ann_passes"] = convert["ann_passes"]
    print(
        f"{name}: convert {convert['ann_passes']:.1f} ANN passes (CPU); simulate "
        f"{cost['simulate_cpu_seconds']:.2f} s CPU, dense limit "
        f"{cost['dense_limit_cpu_seconds']:.2f} s CPU: {cost['simulate_over_dense']:.2f}× "
        f"(load {cost['load_average'][0]:.1f})",
        flush=True,
    )
    return cost


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.modern", description=__doc__)
    parser.add_argument("--zoo", type=Path, default=Path("build/zoo-modern"))
    parser.add_argument("--models", nargs="*")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "benchmark_modern.json")
    parser.add_argument("--no-sj", action="store_true", help="skip SpikingJelly")
    parser.add_argument("--sj-steps", default=",".join(map(str, SJ_STEPS)), help="T for STA")
    parser.add_argument(
        "--sj-only", action="store_true", help="keep our stored results, add SpikingJelly's"
    )
    parser.add_argument(
        "--sim-cost",
        action="store_true",
        help="only the simulation cost (best of --repeats, alternated with the dense limit)",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="of the simulation cost (0: not measured)"
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--markdown", type=Path, help="print the tables of a result file")
    args = parser.parse_args(argv)
    if args.markdown:
        from benchmarks.modern_tables import markdown

        print(markdown(json.loads(args.markdown.read_text())))
        return 0
    from samples.zoo.models import MODERN

    torch.set_num_threads(args.threads)
    names = args.models or [n for n in MODERN if (args.zoo / f"{n}.pt").exists()]
    report = json.loads(args.json.read_text()) if args.json.exists() else {}
    report.setdefault("models", {})
    report.update(torch=torch.__version__, threads=torch.get_num_threads(), steps=list(STEPS))
    for name in names:
        if args.sim_cost:
            cost = sim_cost_only(name, args.zoo, args.repeats)
            report["models"].setdefault(name, {}).setdefault("ours", {})["simulation_cost"] = cost
            args.json.write_text(json.dumps(report, indent=1) + "\n")
            continue
        old = report["models"].get(name) if args.sj_only else None
        steps = tuple(int(t) for t in args.sj_steps.split(","))
        report["models"][name] = run_model(name, args.zoo, not args.no_sj, steps, old, args.repeats)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
