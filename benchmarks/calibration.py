"""Calibration cost: the default conversion (capture, histogram pass, layer-wise calibration)
against one ANN pass over the same samples, with the peak memory.

Run: ``python -m benchmarks.calibration [--models resnet18 resnet50] [--size 224]
[--samples 512] [--json docs/benchmark_calibration.json]`` (full environment: torchvision).

Each model (torchvision, random weights: the cost does not depend on what the network
learnt) converts in its own process, on ``--samples`` random inputs that are both the
calibration and the refine samples. Reported: one ANN pass over them (torch, eval mode, no
grad), the conversion time and that time in ANN passes, the layer calibration's own
counters (segment runs, neuron layer runs, fit simulations, peak bytes held by the engine)
and the process's peak resident memory. ``--markdown FILE`` prints the table from a JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]


def measure(arch: str, size: int, samples: int, batch: int, threads: int) -> dict:
    """Convert one model in this process and report its cost."""
    import torchvision

    from sjconvert import ann2snn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = torchvision.models.get_model(arch, weights=None, num_classes=10).eval()
    x = torch.randn(samples, 3, size, size)
    batches = [x[i : i + batch] for i in range(0, samples, batch)]
    with torch.no_grad():
        model(batches[0][:8])  # warm-up: one-time allocations are not part of a pass
        start = time.perf_counter()
        for b in batches:
            model(b)
        ann = time.perf_counter() - start
    layers: list[str] = []
    start = time.perf_counter()
    conv = ann2snn(
        model, batches, refine_samples=samples, layer_progress=lambda n, *_: layers.append(n)
    )
    seconds = time.perf_counter() - start
    cal = conv.calibration
    return {
        "model": arch,
        "input": [3, size, size],
        "samples": samples,
        "threads": threads,
        "ann_pass_seconds": ann,
        "convert_seconds": seconds,
        "ann_passes": seconds / ann,
        "neuron_layers": len(layers) - len(conv.snn.outputs),
        "counters": {} if cal is None else cal.counters,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def render(rows: list[dict], console: Console) -> None:
    t = Table(title="Default conversion (anytime calibration) against one ANN pass")
    for col in (
        "model",
        "input",
        "samples",
        "layers",
        "ANN pass s",
        "convert s",
        "in ANN passes",
        "engine peak",
        "process peak RSS",
    ):
        t.add_column(col, justify="right")
    for r in rows:
        t.add_row(
            r["model"],
            "×".join(map(str, r["input"])),
            str(r["samples"]),
            str(r["neuron_layers"]),
            f"{r['ann_pass_seconds']:.1f}",
            f"{r['convert_seconds']:.0f}",
            f"{r['ann_passes']:.1f}",
            f"{r['counters'].get('peak_bytes', 0) / 2**30:.2f} GiB",
            f"{r['peak_rss_bytes'] / 2**30:.2f} GiB",
        )
    console.print(t)


def merged(path: Path, rows: list[dict]) -> list[dict]:
    """The rows stored in ``path`` with ``rows`` added, replacing any row of the same model,
    input, sample count and threads."""
    key = lambda r: (r["model"], tuple(r["input"]), r["samples"], r["threads"])  # noqa: E731
    old = json.loads(path.read_text())["rows"] if path.exists() else []
    new = {key(r) for r in rows}
    return [r for r in old if key(r) not in new] + rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.calibration")
    p.add_argument("--models", nargs="*", default=["resnet18", "resnet50"])
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--samples", type=int, default=512)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", type=Path)
    p.add_argument("--markdown", type=Path, help="print the table of a stored JSON")
    p.add_argument("--one", help=argparse.SUPPRESS)  # child process: one model, JSON out
    args = p.parse_args(argv)
    console = Console(width=160)
    if args.markdown:
        render(json.loads(args.markdown.read_text())["rows"], console)
        return 0
    if args.one:
        print(json.dumps(measure(args.one, args.size, args.samples, args.batch, args.threads)))
        return 0
    rows = []
    for arch in args.models:
        cmd = [sys.executable, "-m", "benchmarks.calibration", "--one", arch]
        cmd += ["--size", str(args.size), "--samples", str(args.samples)]
        cmd += ["--batch", str(args.batch), "--threads", str(args.threads)]
        out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        console.print(f"{arch}: {rows[-1]['convert_seconds']:.0f} s", highlight=False)
    render(rows, console)
    if args.json:
        args.json.write_text(json.dumps({"rows": merged(args.json, rows)}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
