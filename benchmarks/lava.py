"""Lava / Loihi 2 benchmark on the bundled digits CNN (converted by ``ann2snn``).

Run: ``.venv/bin/python -m benchmarks.lava [--lava-samples 8] [--json out.json]`` (Lava runs
in the Python 3.10 environment as a subprocess, see ``sjconvert.targets.lava.verify``).

It prints
* the quantisation error per layer (relative RMS of the effective weights and biases) for
  both neuron mappings (CUBA with hard reset, sigma-delta);
* accuracy on the test set: ANN, float SNN (reference simulator, soft reset), our
  fixed-point simulator, and Lava's ``fixed_pt`` simulator on the first samples (with the
  fixed point on the same samples and the spike agreement between the two);
* simulation speed in sample-steps per second on the same network: Lava (one sample per
  built network, with and without building it; "run" still includes Lava's compile and
  process start-up), our fixed-point simulator one sample at a time, and batched over the
  whole test set.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from samples import load
from sjconvert import ann2snn
from sjconvert.exec import Simulator
from sjconvert.targets.lava.export import run_lava_path, to_loihi
from sjconvert.targets.lava.fixed_point import run
from sjconvert.targets.lava.verify import compare, predict

CASES = (("cuba", 16), ("cuba", 32), ("cuba", 64), ("sdnn", 6), ("sdnn", 8))


def _acc(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(pred == y))


def bench(lava_samples: int) -> dict[str, Any]:
    model, test, calib = load("digits")
    conv = ann2snn(model, [torch.tensor(calib["x"])])
    snn, ann = conv.snn, conv.ann
    x, y = test["x"], test["y"]
    xt = torch.tensor(x)
    out: dict[str, Any] = {
        "samples": len(x),
        "ann": _acc(Simulator(ann).rate(xt)[ann.outputs[0]].argmax(-1).numpy(), y),
        "cases": [],
    }
    for model_name, steps in CASES:
        q, net = to_loihi(snn, steps, x_max=float(np.abs(calib["x"]).max()), model=model_name)
        row: dict[str, Any] = {"neuron": model_name, "T": steps}
        row["quantisation_error"] = {k: f["error"] for k, f in q.meta["loihi"]["layers"].items()}
        row["snn_float"] = _acc(Simulator(snn).run(xt, T=steps).output[-1].argmax(-1).numpy(), y)
        start = time.perf_counter()
        res = run(net, net.encode(x), steps)
        row["fixed_point_batched_steps_per_s"] = len(x) * steps / (time.perf_counter() - start)
        row["fixed_point"] = _acc(predict(net, res), y)
        if lava_samples:
            k = lava_samples
            start = time.perf_counter()
            for i in range(k):
                run(net, net.encode(x[i : i + 1]), steps)
            row["fixed_point_steps_per_s"] = k * steps / (time.perf_counter() - start)
            sub = run(net, net.encode(x[:k]), steps)
            start = time.perf_counter()
            lava = run_lava_path(net, x[:k], steps)
            row["lava_steps_per_s_with_build"] = k * steps / (time.perf_counter() - start)
            row["lava_steps_per_s"] = k * steps / lava.seconds
            parity = compare(net, sub, lava)
            row["lava"] = _acc(predict(net, lava), y[:k])
            row["fixed_point_subset"] = _acc(predict(net, sub), y[:k])
            row["spike_agreement_min"] = min(parity.layers.values())
            row["voltage_equal"] = parity.voltage_equal
        out["cases"].append(row)
    return out


def _cell(row: dict[str, Any], key: str, fmt: str = "{:.2%}") -> str:
    return "-" if key not in row else fmt.format(row[key])


def _tables(res: dict[str, Any]) -> list[Table]:
    acc = Table(
        title=f"digits CNN: accuracy on {res['samples']} test samples (ANN {res['ann']:.2%})",
        title_justify="left",
    )
    for col in (
        "neuron",
        "T",
        "float SNN",
        "fixed point",
        "Lava (subset)",
        "fixed (subset)",
        "spike agreement",
        "Lava steps/s (with build)",
        "Lava steps/s (run)",
        "fixed steps/s",
        "fixed steps/s (batch)",
    ):
        acc.add_column(col, justify="right")
    for r in res["cases"]:
        acc.add_row(
            r["neuron"],
            str(r["T"]),
            _cell(r, "snn_float"),
            _cell(r, "fixed_point"),
            _cell(r, "lava"),
            _cell(r, "fixed_point_subset"),
            _cell(r, "spike_agreement_min"),
            _cell(r, "lava_steps_per_s_with_build", "{:.1f}"),
            _cell(r, "lava_steps_per_s", "{:.1f}"),
            _cell(r, "fixed_point_steps_per_s", "{:.0f}"),
            _cell(r, "fixed_point_batched_steps_per_s", "{:.0f}"),
        )
    quant = Table(title="quantisation error per layer (relative RMS)", title_justify="left")
    quant.add_column("layer")
    for r in res["cases"]:
        if r["T"] in (16, 6):
            quant.add_column(f"{r['neuron']} weight", justify="right")
            quant.add_column(f"{r['neuron']} bias", justify="right")
    first = next(r for r in res["cases"] if r["T"] == 16)
    second = next(r for r in res["cases"] if r["T"] == 6)
    for layer in first["quantisation_error"]:
        e1, e2 = first["quantisation_error"][layer], second["quantisation_error"][layer]
        quant.add_row(
            layer,
            f"{e1['weight']:.2%}",
            f"{e1['bias']:.2%}",
            f"{e2['weight']:.2%}",
            f"{e2['bias']:.2%}",
        )
    return [quant, acc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lava-samples", type=int, default=8)
    parser.add_argument("--json", type=str, default=None, help="also write the results here")
    args = parser.parse_args()
    res = bench(args.lava_samples)
    console = Console(width=160)
    for table in _tables(res):
        console.print(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
