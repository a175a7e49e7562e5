"""Modern architectures (issue 22): the default conversion of the trained modern zoo
(``samples.zoo.models.MODERN``: ViT, Swin, Swin V2, ConvNeXt, MaxViT, EfficientNet-B0,
MobileNetV3-Small, RegNetY-400MF) at every T from 1 to 64, against the ANN and SpikingJelly
2.0, with the share of operations that is spike-driven, the conversion cost in ANN passes
and the simulation cost against the dense limit.

Run::

    python -m benchmarks.modern --zoo DIR [--models vit_shapes32 ...] [--json FILE] [--no-sj]
    python -m benchmarks.modern --markdown FILE      # the tables of docs/transformers.md

Per model: the whole test split (1000 shapes, 360 digits), the 512-sample calibration
split; ``ann2snn`` with its defaults (what ``sjconvert ann2snn`` does); one simulation of
64 steps gives every T. Accuracy must be within 1 point of the ANN from T = 8, within 3 at
T = 4, and monotone in T within 2 test samples (the largest drop from any T to a later one
is reported in samples). Conversion: its time over one ANN pass on the calibration samples
(target ≤ 30). Simulation: the 64-step run's time over 64 ANN passes on the test samples,
measured in the same process right after it (the dense limit, non-spiking ops included;
target ≤ 1.2). SpikingJelly (:mod:`benchmarks.modern_spikingjelly`): STA's spiking encoder
at T = 1, 2, 4, …, 64 where it converts the model, and every CNN recipe.
"""

from __future__ import annotations

import argparse
import json
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


def ann_seconds(model: nn.Module, batches: list[torch.Tensor]) -> float:
    """One ANN pass over ``batches``."""
    with torch.no_grad():
        model(batches[0][:4])
        start = time.perf_counter()
        for x in batches:
            model(x)
    return time.perf_counter() - start


def largest_drop(acc: dict[int, float], n: int) -> int:
    """The largest fall of the accuracy from any T to a later one, in test samples."""
    worst, best = 0, -1.0
    for t in sorted(acc):
        best = max(best, acc[t])
        worst = max(worst, round((best - acc[t]) * n))
    return worst


def ours(model: nn.Module, calib: dict, test: dict) -> dict[str, Any]:
    """The default conversion, its accuracy and cost at every T, and its timings."""
    xc = torch.as_tensor(calib["x"])
    cal = [xc[i : i + 128] for i in range(0, len(xc), 128)]
    start = time.perf_counter()
    conv = ann2snn(model, cal)
    convert_s = time.perf_counter() - start
    data = _batches(test)
    res = simulate(conv.snn, data, T=list(STEPS), ann=conv.ann)
    dense = max(STEPS) * ann_seconds(model, [x for x, _ in data])
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
        "convert_seconds": convert_s,
        "convert_ann_passes": convert_s / ann_seconds(model, cal),
        "simulate_seconds": res.seconds,
        "dense_limit_seconds": dense,
        "simulate_over_dense": res.seconds / dense,
        "test_samples": n,
    }


def run_model(
    name: str, zoo: Path, with_sj: bool, sj_steps: tuple[int, ...], old: dict | None = None
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
        "ours": old["ours"] if old else ours(model, calib, test),
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
        old = report["models"].get(name) if args.sj_only else None
        steps = tuple(int(t) for t in args.sj_steps.split(","))
        report["models"][name] = run_model(name, args.zoo, not args.no_sj, steps, old)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
