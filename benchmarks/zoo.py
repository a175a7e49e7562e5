"""Coverage of every torchvision classifier: capture, convert and simulate, or the refusal.

Run: ``.venv/bin/python -m benchmarks.zoo [--only resnet18,vgg11_bn] [--json out.json]``
(defaults: every model of ``torchvision.models.list_models(module=torchvision.models)``,
JSON to ``docs/benchmark_zoo.json``).

Each model is built with random weights (``weights=None``, ``num_classes=10``; nothing is
downloaded), its batch-norm statistics and affine parameters drawn at random so folding
them is not a no-op, and fed random inputs of 64×64 pixels (or the architecture's minimum).
A model whose nonlinearities are all ReLU-family is captured, converted with the plain
layer-wise conversion (``T=None``, ``mode="max"`` on the evaluation inputs themselves) and

* its **rate model** (the converted SNN run in rate mode, ``Simulator(snn).rate``) is
  compared with the ANN: with ``mode="max"`` they must agree within float error;
* the SNN is simulated for a few time steps (it must run and stay finite).

Any other model is listed with capture's one-line refusal.
"""

from __future__ import annotations

import argparse
import fnmatch
import gc
import json
import time
from pathlib import Path
from typing import Any

import torch
import torchvision
from rich.console import Console
from rich.table import Table
from torch import nn

from sjconvert import ann2snn
from sjconvert.errors import SjconvertError, UnsupportedOpError
from sjconvert.exec import Simulator
from sjconvert.exec.workload import workload
from sjconvert.frontends import capture

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZE = 64
# The smallest input each architecture accepts where 64×64 is too small or fixed otherwise.
MIN_SIZE = {"inception_v3": 75, "vit_*": 224, "maxvit_t": 224}
KWARGS = {"googlenet": {"init_weights": True}, "inception_v3": {"init_weights": True}}
BATCH = 4
STEPS = 4
RATE_TOLERANCE = 1e-4  # relative to the largest ANN output


def input_size(name: str) -> int:
    return next((s for pat, s in MIN_SIZE.items() if fnmatch.fnmatch(name, pat)), DEFAULT_SIZE)


def build(name: str) -> nn.Module:
    """A random-weight classifier with random batch-norm statistics (and random weights
    where torchvision initialises a layer to zero, ViT's head), in eval mode."""
    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None, num_classes=10, **KWARGS.get(name, {}))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)) and not m.weight.any():
                nn.init.normal_(m.weight, std=0.02)  # ViT's zero-initialised head: not a test
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                if m.affine:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
    return model.eval()


def bench(name: str) -> dict[str, Any]:
    size = input_size(name)
    model = build(name)
    x = torch.rand(BATCH, 3, size, size, generator=torch.Generator().manual_seed(1))
    row: dict[str, Any] = {
        "model": name,
        "input": size,
        "params_M": sum(p.numel() for p in model.parameters()) / 1e6,
    }
    with torch.no_grad():
        want = model(x)
    start = time.perf_counter()
    try:
        ann = capture(model, x[:2])
    except UnsupportedOpError as exc:
        return {**row, "status": "refused", "reason": str(exc)}
    except SjconvertError as exc:
        return {**row, "status": "capture failed", "reason": str(exc)}
    row["capture_s"] = time.perf_counter() - start
    row["ir_nodes"] = len(ann.nodes)
    del model  # the largest models (600M parameters) must not be held three times
    gc.collect()
    start = time.perf_counter()
    snn = ann2snn(ann, [x], mode="max", T=None).snn
    row["convert_s"] = time.perf_counter() - start
    del ann
    gc.collect()
    sim = Simulator(snn)
    got = sim.rate(x)[snn.outputs[0]]
    err = float((got - want).abs().max())
    scale = max(1.0, float(want.abs().max()))
    start = time.perf_counter()
    res = sim.run(x, T=STEPS)
    row["simulate_s"] = time.perf_counter() - start
    synops = sum(float(v.sum()) for v in res.synops.values()) / BATCH
    finite = bool(torch.isfinite(res.output).all())
    ok = err <= RATE_TOLERANCE * scale and finite
    return {
        **row,
        "status": "converted" if ok else "rate mismatch",
        "neuron_layers": sum(1 for _, n in snn if n.spiking),
        "rate_max_error": err,
        "rate_error_relative": err / scale,
        "snn_steps": STEPS,
        "snn_finite": finite,
        "spike_driven": workload(sim.graph).fraction(STEPS, synops),
    }


def table(rows: list[dict[str, Any]]) -> Table:
    t = Table(
        title=f"torchvision coverage (batch {BATCH}, torch threads {torch.get_num_threads()})"
    )
    for col in (
        "model",
        "input",
        "params M",
        "status",
        "IR nodes",
        "neurons",
        "rate error",
        "capture s",
        "convert s",
        "simulate s",
    ):
        t.add_column(col, justify="left" if col in ("model", "status") else "right")
    for r in rows:
        t.add_row(
            r["model"],
            str(r["input"]),
            f"{r['params_M']:.1f}",
            r["status"],
            str(r.get("ir_nodes", "")),
            str(r.get("neuron_layers", "")),
            f"{r['rate_error_relative']:.1e}" if "rate_error_relative" in r else "",
            *(f"{r[k]:.1f}" if k in r else "" for k in ("capture_s", "convert_s", "simulate_s")),
        )
    return t


def _share(row: dict[str, Any]) -> str:
    return f"{100 * row['spike_driven']:.0f} %" if "spike_driven" in row else "n/a"


def markdown(results: dict[str, Any]) -> str:
    """The "Coverage" section of ``docs/zoo.md``, from the stored JSON."""
    rows = results["models"]
    done = [r for r in rows if r["status"] == "converted"]
    lines = [
        "| model | input | params (M) | IR nodes | neuron layers | rate error (rel.) "
        f"| spike-driven (T={STEPS}) | capture s | convert s | simulate s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if "rate_error_relative" in r:
            lines.append(
                f"| {r['model']} | {r['input']} | {r['params_M']:.1f} | {r['ir_nodes']} "
                f"| {r['neuron_layers']} | {r['rate_error_relative']:.1e} "
                f"| {_share(r)} "
                f"| {r['capture_s']:.1f} | {r['convert_s']:.1f} | {r['simulate_s']:.1f} |"
            )
    refused = [
        f"* **{r['model']}** — {r['reason']}"
        for r in rows
        if r["status"] in ("refused", "capture failed")
    ]
    apart = [f"* **{r['model']}** — {r['reason']}" for r in rows if r["status"] == "not run"]
    head = f"{len(done)} of {len(rows)} classifiers converted; {len(refused)} refused"
    parts = [head + (f"; {len(apart)} not run here." if apart else "."), "", *lines]
    if refused:
        parts += ["", "Refused, with capture's one-line reason:", "", *refused]
    if apart:
        parts += ["", "Not run here (and why):", "", *apart]
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated model names (default: all)")
    parser.add_argument("--json", default=str(ROOT / "docs" / "benchmark_zoo.json"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument(
        "--markdown", action="store_true", help="print the docs table from --json and exit"
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="replace only the rows of the models run in --json (the largest models can then "
        "run apart, one at a time)",
    )
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(Path(args.json).read_text())))
        return
    torch.set_num_threads(args.threads)
    names = torchvision.models.list_models(module=torchvision.models)
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    console = Console(width=160)
    rows = []
    for name in names:
        rows.append(bench(name))
        r = rows[-1]
        console.print(f"{name}: {r['status']} {r.get('reason', '')}", highlight=False)
        gc.collect()
        if args.update:
            _save(args.json, _merged(args.json, rows))
    console.print(table(rows))
    for r in rows:
        if "reason" in r:
            console.print(f"{r['model']}: {r['reason']}", highlight=False)
    _save(args.json, _merged(args.json, rows) if args.update else rows)


def _merged(path: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows stored in ``path`` with those of ``rows`` replaced or added, in torchvision's
    order."""
    old = json.loads(Path(path).read_text())["models"] if Path(path).exists() else []
    by_name = {r["model"]: r for r in old} | {r["model"]: r for r in rows}
    order = torchvision.models.list_models(module=torchvision.models)
    return [by_name[n] for n in order if n in by_name]


def _save(path: str, rows: list[dict[str, Any]]) -> None:
    results = {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "torch_threads": torch.get_num_threads(),
        "batch": BATCH,
        "models": rows,
    }
    Path(path).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
