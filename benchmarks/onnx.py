"""ONNX Runtime vs the torch reference simulator on the bundled samples.

Run: ``.venv/bin/python -m benchmarks.onnx [--steps 8,32] [--json out.json]``.

Per sample and T it prints
* throughput (samples/s, median of 3 runs over the whole test set in batches of 256) of the
  reference simulator (torch), the exported T-unrolled model in ONNX Runtime (float32 and
  float16) and the stateful step model run T times — all on the same CPU, each with its
  library's default thread count;
* accuracy of each, and its parity with the reference: prediction agreement, spike-count
  agreement (per sample and layer), max rate error.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable

import numpy as np
import onnxruntime as ort
import torch
from rich.console import Console
from rich.table import Table

from benchmarks.conversion import timed
from samples import SAMPLE_NAMES, load
from sjconvert import ann2snn
from sjconvert.exec import Simulator
from sjconvert.frontends.loading import DataSource
from sjconvert.targets.onnx.export import export_step, export_unrolled
from sjconvert.targets.onnx.parity import verify_onnx
from sjconvert.targets.onnx.runtime import run_steps, run_unrolled, session

BATCH = 256


def _runner(
    sess: ort.InferenceSession, model: object, batches: list[np.ndarray], T: int, step: bool
) -> Callable[[], object]:
    if step:
        return lambda: [run_steps(sess, model, b, T) for b in batches]
    return lambda: [run_unrolled(sess, b) for b in batches]


def bench(name: str, T: int) -> list[dict[str, object]]:
    model, test, calib = load(name)
    snn = ann2snn(model, [torch.tensor(calib["x"])]).snn
    x, y = test["x"], test["y"]
    batches = [x[i : i + BATCH] for i in range(0, len(x), BATCH)]
    data = DataSource(name, arrays=(x, y), batch_size=BATCH)
    prog = Simulator(snn)

    def simulate() -> list[torch.Tensor]:
        return [prog.run(torch.tensor(b), T=T).output[-1].argmax(-1) for b in batches]

    ref_pred = torch.cat(simulate()).numpy()
    rows: list[dict[str, object]] = [
        {
            "executor": "reference simulator (torch)",
            "samples_per_s": len(x) / timed(simulate),
            "accuracy": float((ref_pred == y).mean()),
        }
    ]
    models = {
        "ONNX Runtime unrolled float32": export_unrolled(snn, T, counts=True),
        "ONNX Runtime unrolled float16": export_unrolled(snn, T, "float16", counts=True),
        "ONNX Runtime step ×T float32": export_step(snn, counts=True),
    }
    for label, m in models.items():
        run = _runner(session(m), m, batches, T, "step" in label)
        parity = verify_onnx(snn, m, data, T)
        rows.append(
            {
                "executor": label,
                "samples_per_s": len(x) / timed(run),
                "accuracy": parity.accuracy,
                "prediction_agreement": parity.prediction_agreement,
                "spike_count_agreement": parity.spike_count_agreement,
                "max_rate_error": parity.max_rate_error,
            }
        )
    return rows


def _pct(value: object, digits: int = 2) -> str:
    return "" if value is None else f"{100 * float(value):.{digits}f} %"  # type: ignore[arg-type]


def table(rows: list[dict[str, object]], title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for col in (
        "executor",
        "samples/s",
        "accuracy",
        "prediction agreement",
        "spike-count agreement",
        "max rate error",
    ):
        t.add_column(col, justify="left" if col == "executor" else "right")
    for r in rows:
        err = r.get("max_rate_error")
        t.add_row(
            str(r["executor"]),
            f"{float(r['samples_per_s']):.0f}",  # type: ignore[arg-type]
            _pct(r.get("accuracy")),
            _pct(r.get("prediction_agreement")),
            _pct(r.get("spike_count_agreement"), 3),
            "" if err is None else f"{float(err):.3g}",  # type: ignore[arg-type]
        )
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="8,32", help="comma-separated T values")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    console = Console(width=160)
    results: dict[str, object] = {
        "torch_threads": torch.get_num_threads(),
        "onnxruntime": ort.__version__,
        "torch": torch.__version__,
    }
    for name in SAMPLE_NAMES:
        for T in (int(t) for t in args.steps.split(",")):
            rows = bench(name, T)
            results[f"{name}/T={T}"] = rows
            console.print(table(rows, f"{name}, T={T} (torch threads {torch.get_num_threads()})"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
