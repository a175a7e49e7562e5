"""Low-T conversion benchmark: what each ``ann2snn`` option buys at T = 1 … 32.

Run: ``.venv/bin/python -m benchmarks.low_t [--samples digits mnist1d digits16]
[--json docs/benchmark_low_t.json]``.

For each sample model and option set it converts the ANN on the bundled calibration set,
simulates the test set once for T = 32 (one run gives every T) and prints
* accuracy at T = 1, 2, 4, 8, 16, 32 beside the ANN's;
* spikes per inference at T = 8 and T = 32 (all neurons, all steps: the energy proxy);
* conversion time (capture, calibration, layer calibration);
and, per model at the default settings, the simulation work to reach ANN − 1 point: the
smallest T with accuracy ≥ ANN − 1 point, times the measured cost of one simulated step,
also given in units of one plain ANN pass over the same samples.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from samples import SAMPLE_NAMES, load
from sjconvert import ann2snn
from sjconvert.exec import Simulator
from sjconvert.exec.evaluate import evaluate

STEPS = (1, 2, 4, 8, 16, 32)
T_MAX = 32
BATCH = 256
DEFAULT = "+ per-layer V0 search (T=8) = default"
OPTIONS: dict[str, dict] = {
    "rate norm 99.9 %, V0=0 (Rueckauer 2017)": {"T": None, "v_init": 0.0},
    "+ half-threshold start V0=θ/2": {"T": None},
    "+ channel-wise λ": {"search": False, "bias": False, "v_search": False},
    "+ threshold search (T=8)": {"bias": False, "v_search": False},
    "+ bias correction (T=8)": {"v_search": False},
    DEFAULT: {},
    "default, layer-wise λ": {"granularity": "layer"},
    "default, --T 4": {"T": 4},
    "default, --T 4, layer-wise λ": {"T": 4, "granularity": "layer"},
}
MAXPOOL = {
    "max pooling: spike (max over spikes)": {"maxpool": "spike"},
    "max pooling: avg (average instead)": {"maxpool": "avg"},
}


def simulate(
    snn, x: torch.Tensor, y: torch.Tensor
) -> tuple[dict[int, float], dict[int, float], float]:
    """Accuracy at every T ≤ 32, spikes per sample at T = 8 and 32, seconds per step."""
    sim = Simulator(snn)
    batches = [(x[i : i + BATCH], y[i : i + BATCH]) for i in range(0, len(x), BATCH)]
    long = evaluate(sim, batches, range(1, T_MAX + 1))
    short = evaluate(sim, batches, 8)
    spikes = {8: short.spikes_per_sample, T_MAX: long.spikes_per_sample}
    return long.snn, spikes, long.seconds / T_MAX


def run(name: str) -> dict:
    model, test, calib = load(name)
    x, y = torch.tensor(test["x"]), torch.tensor(test["y"])
    calib_batches = [
        torch.tensor(calib["x"][i : i + BATCH]) for i in range(0, len(calib["x"]), BATCH)
    ]
    with torch.no_grad():
        ann_acc = float((model(x).argmax(1) == y).float().mean())
        start = time.perf_counter()
        for _ in range(5):
            model(x)
        ann_pass = (time.perf_counter() - start) / 5
    options = dict(OPTIONS)
    if any(isinstance(m, torch.nn.MaxPool2d | torch.nn.MaxPool1d) for m in model.modules()):
        options.update(MAXPOOL)
    rows = {}
    for label, kw in options.items():
        start = time.perf_counter()
        conv = ann2snn(model, calib_batches, **kw)
        seconds = time.perf_counter() - start
        acc, spikes, step = simulate(conv.snn, x, y)
        rows[label] = {
            "options": kw,
            "accuracy": acc,
            "spikes": spikes,
            "convert_seconds": seconds,
            "step_seconds": step,
        }
        print(f"{name}: {label}: T=4 {acc[4]:.4f} T=8 {acc[8]:.4f} ({seconds:.1f} s)", flush=True)
    default = rows[DEFAULT]
    reach = next((t for t, a in default["accuracy"].items() if a >= ann_acc - 0.01), None)
    work = None if reach is None else reach * default["step_seconds"]
    return {
        "sample": name,
        "ann_accuracy": ann_acc,
        "test_samples": len(x),
        "ann_pass_seconds": ann_pass,
        "options": rows,
        "reach_T": reach,
        "reach_seconds": work,
        "reach_ann_passes": None if work is None else work / ann_pass,
    }


def render(results: list[dict], console: Console) -> None:
    acc = Table(title="SNN accuracy (%) vs T, spikes per inference, conversion time")
    for col in (
        "sample",
        "option",
        "ANN",
        *(f"T={t}" for t in STEPS),
        "spikes @8",
        "@32",
        "conv s",
    ):
        acc.add_column(col, justify="right")
    work = Table(title="Simulation work to reach ANN − 1 point (default settings)")
    for col in ("sample", "ANN", "T needed", "per-step cost", "T × step", "in ANN passes"):
        work.add_column(col, justify="right")
    for r in results:
        for label, o in r["options"].items():
            acc.add_row(
                r["sample"],
                label,
                f"{100 * r['ann_accuracy']:.2f}",
                *(f"{100 * o['accuracy'][t]:.2f}" for t in STEPS),
                f"{o['spikes'][8]:.0f}",
                f"{o['spikes'][T_MAX]:.0f}",
                f"{o['convert_seconds']:.1f}",
            )
        step = r["options"][DEFAULT]["step_seconds"]
        work.add_row(
            r["sample"],
            f"{100 * r['ann_accuracy']:.2f}",
            str(r["reach_T"]),
            f"{1e3 * step:.1f} ms / {r['test_samples']} samples",
            "" if r["reach_seconds"] is None else f"{1e3 * r['reach_seconds']:.1f} ms",
            "" if r["reach_ann_passes"] is None else f"{r['reach_ann_passes']:.1f}×",
        )
    console.print(acc)
    console.print(work)


def _at(table: dict, t: int) -> float:
    """``table[t]`` for a fresh run or a JSON-loaded one (whose keys are strings)."""
    return table[t] if t in table else table[str(t)]


def markdown(results: list[dict]) -> str:
    """The accuracy and work tables as Markdown (``docs/low_t.md`` quotes them)."""
    head = "| model | option | ANN | " + " | ".join(f"T={t}" for t in STEPS)
    lines = [head + " | spikes @8 | @32 | conv s |", "|---" * (len(STEPS) + 6) + "|"]
    for r in results:
        for label, o in r["options"].items():
            acc = " | ".join(f"{100 * _at(o['accuracy'], t):.2f}" for t in STEPS)
            lines.append(
                f"| {r['sample']} | {label} | {100 * r['ann_accuracy']:.2f} | {acc} | "
                f"{_at(o['spikes'], 8):.0f} | {_at(o['spikes'], T_MAX):.0f} | "
                f"{o['convert_seconds']:.1f} |"
            )
    lines += [
        "",
        "| model | T needed | one step | T × step | in ANN passes |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        step = r["options"][DEFAULT]["step_seconds"]
        work = "" if r["reach_seconds"] is None else f"{1e3 * r['reach_seconds']:.0f} ms"
        passes = "" if r["reach_ann_passes"] is None else f"{r['reach_ann_passes']:.1f}×"
        lines.append(
            f"| {r['sample']} | {r['reach_T']} | {1e3 * step:.1f} ms / {r['test_samples']} "
            f"samples | {work} | {passes} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", nargs="*", default=list(SAMPLE_NAMES))
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    parser.add_argument("--markdown", type=Path, help="print the tables of a saved JSON run")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return
    torch.manual_seed(0)
    results = [run(s) for s in args.samples]
    render(results, Console(width=200))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
