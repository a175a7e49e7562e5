"""Lava / Loihi 2 benchmark: the bundled digits CNN (a chain: NetX) and MNIST-1D residual
Conv1d CNN (a DAG: Lava process graph), each converted by ``ann2snn`` without the
rate-code calibration (``T=None, v_init=0``, what ``to-lava`` uses).

Run: ``.venv/bin/python -m benchmarks.lava [--lava-samples 200] [--json out.json]``
(Lava runs in the Python 3.10 environment as a subprocess, see
``sjconvert.targets.lava.verify``); ``--markdown out.json`` prints the tables of a saved run.

Per case (model, neuron mapping, T) it records
* the quantisation error per population;
* accuracy on the test set: ANN, float SNN (reference simulator, soft reset), our
  fixed-point simulator; for CUBA the threshold factor α (accuracy of every α on 200
  calibration samples and on the test set, the α picked, and α = 1);
* Lava's ``fixed_pt`` simulator on the first ``--lava-samples`` test samples (one network
  built once, samples back to back; for two cases also the twin with convolutions unrolled
  to dense matrices): its accuracy, the fixed point's on the same samples, message
  agreement per population, output states, prediction agreement, samples per minute
  (building and compiling included), and the fixed point's samples per second.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from samples import load
from sjconvert import ann2snn
from sjconvert.api import PLAIN
from sjconvert.api.lava import FixedPointRun, LavaBuild, VerifyData, verify_lava
from sjconvert.exec.evaluate import evaluate
from sjconvert.targets.lava.build import INPUT_MAX, LoihiExport, to_loihi
from sjconvert.targets.lava.lowering.populations import lower
from sjconvert.targets.lava.threshold_factor import GRID, tune_alpha

CASES = (  # model, neuron mapping, T, Lava on the unrolled twin
    ("digits", "cuba", 16, False),
    ("digits", "cuba", 32, False),
    ("digits", "cuba", 64, False),
    ("digits", "cuba", 32, True),
    ("digits", "sdnn", 6, False),
    ("digits", "sdnn", 8, False),
    ("mnist1d", "sdnn", 8, False),
    ("mnist1d", "sdnn", 8, True),
    ("mnist1d", "cuba", 32, False),
)


def _acc(exp: LoihiExport, snn: Any, test: dict) -> float:
    """The fixed-point accuracy of ``exp`` on the test set (the one accuracy loop)."""
    batches = VerifyData(test["x"], test["y"], False).batches()
    return evaluate(FixedPointRun(exp, snn), batches, T=[exp.steps]).snn[exp.steps]


def _alpha(snn: Any, calib: dict, test: dict, steps: int, x_max: float) -> dict[str, Any]:
    """Every α of the grid on calibration and test samples, and the pick."""
    choice = tune_alpha(lower(snn), calib["x"], calib["y"], steps, INPUT_MAX / x_max, x_max)
    table = []
    for a in GRID:
        exp = to_loihi(snn, steps, x_max=x_max, model="cuba", alpha=a)
        test_acc = _acc(exp, snn, test)
        table.append({"alpha": a, "calib": choice.accuracy[a], "test": test_acc})
    return {"alpha": choice.alpha, "table": table}


def case(
    name: str, model: str, steps: int, unroll: bool, lava_samples: int, conv: Any, alphas: dict
) -> dict[str, Any]:
    snn, ann, test, calib, x_max = conv
    row: dict[str, Any] = {"model": name, "neuron": model, "T": steps, "unroll": unroll}
    alpha = 1.0
    if model == "cuba":
        if (name, steps) not in alphas:
            alphas[name, steps] = _alpha(snn, calib, test, steps, x_max)
        row["alpha"] = alphas[name, steps]
        alpha = row["alpha"]["alpha"]
    exp = to_loihi(snn, steps, x_max=x_max, model=model, alpha=alpha)
    row["format"] = exp.format
    row["populations"], row["synapses"] = len(exp.net.neurons), len(exp.net.synapses)
    row["quantisation_error"] = {k: f["error"] for k, f in exp.net.facts.items()}
    start = time.perf_counter()
    data = VerifyData(test["x"], test["y"], False)
    row.update(verify_lava(LavaBuild(exp, snn, ann, alpha), data, lava_samples, unroll=unroll))
    row["seconds"] = time.perf_counter() - start
    row["fixed_point_samples_per_s"] = len(test["x"]) / row["fixed_point_seconds"]
    if model == "sdnn" and exp.format == "netx":  # the same chain as a process graph
        pg = to_loihi(snn, steps, x_max=x_max, model=model, fmt="procgraph")
        row["procgraph_fixed_point"] = _acc(pg, snn, test)
    return row


def bench(lava_samples: int) -> dict[str, Any]:
    out: dict[str, Any] = {"lava_samples": lava_samples, "cases": [], "load": []}
    converted: dict[str, Any] = {}
    alphas: dict[tuple[str, int], Any] = {}
    for name, model, steps, unroll in CASES:
        if name not in converted:
            net, test, calib = load(name)
            c = ann2snn(net, [torch.tensor(calib["x"])], **PLAIN)
            x_max = float(np.abs(calib["x"]).max())
            converted[name] = (c.snn, c.ann, test, calib, x_max)
        row = case(name, model, steps, unroll, lava_samples, converted[name], alphas)
        out["cases"].append(row)
        out["load"].append(os.getloadavg()[0])
        print(json.dumps({k: v for k, v in out["cases"][-1].items() if k != "quantisation_error"}))
    return out


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def rows(res: dict[str, Any]) -> list[list[str]]:
    table = []
    for r in res["cases"]:
        lava = r.get("lava", {})
        alpha = r.get("alpha", {})
        plain = next((t["test"] for t in alpha.get("table", []) if t["alpha"] == 1.0), None)
        table.append(
            [
                r["model"], r["neuron"], str(r["T"]),
                r["format"] + (" (twin)" if r["unroll"] else ""), _pct(r.get("ann")),
                _pct(r["snn_float"]), _pct(plain), str(alpha.get("alpha", "-")),
                _pct(r["fixed_point"]), f"{lava.get('samples', 0)}", _pct(lava.get("accuracy")),
                _pct(lava.get("fixed_point_accuracy")),
                _pct(min(lava["spike_agreement"].values())) if lava else "-",
                "yes" if lava.get("state_equal") else "-",
                f"{lava['samples_per_minute']:.0f}" if lava else "-",
                f"{r['fixed_point_samples_per_s']:.0f}",
            ]
        )  # fmt: skip
    return table


HEAD = (
    "model", "neuron", "T", "format", "ANN", "float SNN", "fixed point α=1", "α",
    "fixed point", "Lava samples", "Lava", "fixed point (same)", "agreement", "state equal",
    "Lava samples/min", "fixed point samples/s",
)  # fmt: skip


def alpha_rows(res: dict[str, Any]) -> list[list[str]]:
    out = []
    for r in res["cases"]:
        if "alpha" in r and not r["unroll"]:
            cells = [f"{100 * t['test']:.1f} ({100 * t['calib']:.1f})" for t in r["alpha"]["table"]]
            out.append([r["model"], str(r["T"]), *cells])
    return out


def markdown(res: dict[str, Any]) -> str:
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    lines += ["| " + " | ".join(r) + " |" for r in rows(res)]
    head = ["model", "T", *(f"α={a}" for a in GRID)]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in alpha_rows(res)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lava-samples", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--markdown", type=Path, help="print the tables of a saved JSON run")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return
    res = bench(args.lava_samples)
    console = Console(width=200)
    table = Table(title="Loihi 2 (Lava fixed_pt) accuracy and speed", title_justify="left")
    for col in HEAD:
        table.add_column(col, justify="right")
    for r in rows(res):
        table.add_row(*r)
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=float))


if __name__ == "__main__":
    main()
