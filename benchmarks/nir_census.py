"""Which torchvision ReLU-family classifiers export to NIR (issue 26).

Run: ``.venv-interop/bin/python -m benchmarks.nir_census [--only resnet18,mobilenet_v2]
[--json out.json]``.

Every classifier ``benchmarks.zoo`` converts with ReLU-family activations (the rows of
``docs/benchmark_zoo.json`` whose status is ``converted``), built as there (random weights,
64×64), converted plainly as ``to-nir`` converts (:data:`~sjconvert.api.PLAIN`), exported
with every ``--lossy`` mapping allowed, and checked by NIR's own type inference. Prints
each model's result (``ok`` or the refusal) and the count.
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path

import torch

from benchmarks.zoo import build, input_size
from sjconvert.api import PLAIN, ann2snn
from sjconvert.errors import SjconvertError
from sjconvert.targets.nir import DT, LOSSY, to_nir
from sjconvert.targets.nir import lossy as lossy_maps

ROOT = Path(__file__).resolve().parents[1]


def census(name: str) -> dict[str, object]:
    began = time.monotonic()
    size = input_size(name)
    x = torch.rand(4, 3, size, size, generator=torch.Generator().manual_seed(1))
    try:
        snn = ann2snn(build(name), [x], mode="max", **PLAIN).snn
        graph = to_nir(snn, DT, lossy_maps.parse(sorted(LOSSY)))
        graph.infer_types()
        result = "ok" if graph.check_types() else "NIR's type check failed"
    except SjconvertError as e:
        result = str(e)
    gc.collect()
    return {"model": name, "result": result, "seconds": round(time.monotonic() - began, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated model names")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args()
    zoo = json.loads((ROOT / "docs" / "benchmark_zoo.json").read_text())["models"]
    names = sorted(r["model"] for r in zoo if r["status"] == "converted")
    names = args.only.split(",") if args.only else names
    torch.set_num_threads(1)
    rows = []
    for name in names:
        rows.append(census(name))
        print(f"{name:22s} {rows[-1]['seconds']:6.1f} s  {str(rows[-1]['result'])[:150]}")
    print(f"{sum(r['result'] == 'ok' for r in rows)} of {len(rows)} export to NIR")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
