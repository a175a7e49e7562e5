"""Anytime accuracy benchmark: the default conversion at T = 1 … 64 on the samples and the
trained zoo, against the ANN and SpikingJelly 2.0's best recipe at each T, with the cost per
T, the calibration cost in ANN passes, and an ablation of every mechanism.

Run (full environment)::

    python -m benchmarks.low_t --zoo DIR [--models digits mnist1d ... resnet18_digits32]
        [--ablation] [--sj docs/zoo_spikingjelly.json] [--run-sj] [--json docs/benchmark_low_t.json]
    python -m benchmarks.low_t --markdown docs/benchmark_low_t.json   # the tables again
    python -m benchmarks.low_t --merge-sj --json FILE [--sj SJ.json] [--run-sj --models ...]
    python -m benchmarks.low_t --json FILE --models ... --variants "fading V0" "-T 4"

Every model is evaluated on the first ``--n-test`` (500) samples of its test set (what the
SpikingJelly baseline benchmark, ``benchmarks.zoo_spikingjelly``, uses) and calibrated on
its 512-sample calibration set. The zoo's split (``samples.zoo.models.TUNE`` /
``HELD_OUT``) is recorded per model: defaults were chosen on the samples and the TUNE
models only. SpikingJelly's best per T comes from ``--sj`` (the zoo baseline JSON) or, with
``--run-sj``, from running its recipes here (the samples are not in the zoo JSON).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from benchmarks.low_t_tables import markdown
from samples import SAMPLE_NAMES
from samples import load as load_sample
from sjconvert import ann2snn, simulate

STEPS = (1, 2, 4, 8, 16, 32, 64)
BATCH = 100
ABLATION: dict[str, dict[str, Any]] = {
    "IF, layer-wise λ, V0 = 0, per-step max pool (Rueckauer 2017)": {
        "T": None,
        "neuron": "if",
        "v_init": 0.0,
        "maxpool": "pre",
    },
    "IF, layer-wise λ, V0 = θ/2": {"T": None, "neuron": "if", "maxpool": "pre"},
    "default without bursts (1 spike per step)": {"burst": 1},
    "default with IF neurons (no negative spikes)": {"neuron": "if"},
    "default with per-step max pooling": {"maxpool": "pre"},
    "default without the fading V0 fit": {"v_search": False},
    "default with layer-wise λ": {"granularity": "layer"},
    "default + per-step bias fit": {"bias": True},
    "default + threshold search": {"search": True},
    "-T 4 --bias (per-step bias fit for T = 4 alone)": {"T": 4, "bias": True},
    "default with 8 calibration steps (--calib-steps 8)": {"calib_steps": 8},
}


def load_model(name: str, zoo: Path | None) -> tuple[nn.Module, dict, dict, str]:
    """``(model, test, calib, group)``: a sample, or a zoo model from ``zoo``."""
    if name in SAMPLE_NAMES:
        model, test, calib = load_sample(name)
        return model, test, calib, "sample"
    from samples.zoo import load
    from samples.zoo.models import TUNE

    if zoo is None:
        raise SystemExit(f"{name}: give --zoo DIR (the trained zoo)")
    model, test, calib = load(name, zoo)
    return model, test, calib, "tune" if name in TUNE else "held_out"


def _batches(data: dict, n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    x, y = torch.as_tensor(data["x"][:n]), torch.as_tensor(data["y"][:n])
    return [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, len(x), BATCH)]


def ann_pass_seconds(model: nn.Module, x: torch.Tensor) -> float:
    """One ANN forward pass over the calibration samples (batches of 128)."""
    with torch.no_grad():
        model(x[:8])
        start = time.perf_counter()
        for i in range(0, len(x), 128):
            model(x[i : i + 128])
    return time.perf_counter() - start


def convert_and_run(model: nn.Module, calib: dict, test: list, **options: Any) -> dict:
    """One conversion and its accuracy and cost at every T."""
    x = torch.as_tensor(calib["x"])
    start = time.perf_counter()
    conv = ann2snn(model, [x[i : i + 128] for i in range(0, len(x), 128)], **options)
    seconds = time.perf_counter() - start
    res = simulate(conv.snn, test, T=list(STEPS), ann=conv.ann)
    return {
        "options": options,
        "accuracy": {str(t): a for t, a in res.snn.items()},
        "ann": res.ann,
        "cost": None if res.cost is None else res.cost.to_dict(),
        "convert_seconds": seconds,
        "counters": {} if conv.calibration is None else conv.calibration.counters,
    }


def spikingjelly_best(model: nn.Module, calib: dict, test: list) -> dict:
    """SpikingJelly 2.0's best recipe and readout per T, run here."""
    from benchmarks.zoo_spikingjelly import CALIB_BATCH, RECIPES, best_per_t, run_recipe, to_batches

    cal = to_batches(calib["x"], calib["y"], CALIB_BATCH)
    results = {r: run_recipe(r, model, cal, test) for r in RECIPES if r != "cw_p99.9_half_prepool"}
    return best_per_t(results)


def run_model(name: str, args: argparse.Namespace, sj: dict) -> dict:
    model, test, calib, group = load_model(name, args.zoo)
    data = _batches(test, args.n_test)
    ours = convert_and_run(model, calib, data)
    ann_s = ann_pass_seconds(model, torch.as_tensor(calib["x"]))
    ours["ann_pass_seconds"] = ann_s
    ours["ann_passes"] = ours["convert_seconds"] / ann_s
    print(f"{name}: {_line(ours)} ({ours['ann_passes']:.1f} ANN passes)", flush=True)
    out = {"group": group, "test_samples": sum(len(y) for _, y in data), "ours": ours}
    best = sj.get(name, {}).get("best")
    if best is None and args.run_sj:
        best = spikingjelly_best(model, calib, data)
    out["spikingjelly_best"] = best
    if args.ablation and group != "held_out":
        out["ablation"] = ablate(model, calib, data, ABLATION)
    return out


def ablate(model: nn.Module, calib: dict, data: list, variants: dict[str, dict]) -> dict:
    """Each variant's accuracy, cost and conversion time in ANN passes (per-step max pooling
    only where there is a max pool)."""
    has_maxpool = any(isinstance(m, nn.MaxPool1d | nn.MaxPool2d) for m in model.modules())
    out = {}
    for label, options in variants.items():
        if options.get("maxpool") == "pre" and "T" not in options and not has_maxpool:
            continue
        r = convert_and_run(model, calib, data, **options)
        r["ann_pass_seconds"] = ann_pass_seconds(model, torch.as_tensor(calib["x"]))
        r["ann_passes"] = r["convert_seconds"] / r["ann_pass_seconds"]
        out[label] = r
        print(f"  {label}: {_line(r)} ({r['ann_passes']:.1f} ANN passes)", flush=True)
    return out


def add_ablation(args: argparse.Namespace) -> int:
    """Run the ablation variants whose label contains one of ``--variants`` on the
    ``--models`` of the stored run ``--json`` and add them to it. Held-out models take only
    variants named this way: a check that an option helps where it was not tuned."""
    report = json.loads(args.json.read_text())
    chosen = {k: v for k, v in ABLATION.items() if any(w in k for w in args.variants)}
    for name in args.models:
        model, test, calib, _ = load_model(name, args.zoo)
        print(name, flush=True)
        found = ablate(model, calib, _batches(test, args.n_test), chosen)
        report["models"][name].setdefault("ablation", {}).update(found)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(markdown(report))
    return 0


def merge_sj(args: argparse.Namespace, sj: dict) -> int:
    """Fill SpikingJelly's best per T into the stored run ``--json``: from ``--sj`` (the zoo
    baseline, every recipe: it replaces a ``--run-sj`` result, which leaves out the pre-pool
    recipe), else with ``--run-sj`` by running its recipes on the ``--models`` named."""
    report = json.loads(args.json.read_text())
    for name, m in report["models"].items():
        if sj.get(name, {}).get("best"):
            m["spikingjelly_best"] = sj[name]["best"]
        if m.get("spikingjelly_best") is None and args.run_sj and name in args.models:
            model, test, calib, _ = load_model(name, args.zoo)
            m["spikingjelly_best"] = spikingjelly_best(model, calib, _batches(test, args.n_test))
            print(f"{name}: SpikingJelly's best per T done", flush=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(markdown(report))
    return 0


def _line(r: dict) -> str:
    return " ".join(f"{100 * r['accuracy'][str(t)]:.1f}" for t in STEPS)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.low_t")
    p.add_argument("--models", nargs="*", default=list(SAMPLE_NAMES))
    p.add_argument("--zoo", type=Path, help="folder of the trained zoo (samples.zoo.train)")
    p.add_argument("--n-test", type=int, default=500)
    p.add_argument("--ablation", action="store_true", help="also every mechanism's ablation")
    p.add_argument("--sj", type=Path, default=Path("docs/zoo_spikingjelly.json"))
    p.add_argument("--run-sj", action="store_true", help="run SpikingJelly where --sj has none")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path)
    p.add_argument("--markdown", type=Path, help="print the tables of a stored run")
    p.add_argument(
        "--merge-sj", action="store_true", help="only add SpikingJelly's numbers to --json"
    )
    p.add_argument(
        "--variants", nargs="+", help="only add the ablation variants whose label has one"
    )
    args = p.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return 0
    torch.set_num_threads(args.threads)
    sj = json.loads(args.sj.read_text())["models"] if args.sj.exists() else {}
    if args.merge_sj:
        return merge_sj(args, sj)
    if args.variants:
        return add_ablation(args)
    old = json.loads(args.json.read_text()) if args.json and args.json.exists() else {}
    report = {"steps": list(STEPS), "n_test": args.n_test, "models": old.get("models", {})}
    for name in args.models:
        report["models"][name] = run_model(name, args, sj)
        if args.json:
            args.json.write_text(json.dumps(report, indent=1) + "\n")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
