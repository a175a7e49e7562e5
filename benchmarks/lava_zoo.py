"""Loihi 2 parity at scale on the trained zoo: each model through the installed
``sjconvert to-lava MODEL --arch … --calib … -T T --verify TEST --lava-samples K --json``
with its defaults, as a user runs it.

Per (model, T) it stores the report's accuracies (ANN, float SNN at T input steps on the
simulator clock, our fixed point on the Loihi clock, all on the whole test set), Lava's
``Loihi2SimCfg(fixed_pt)`` against our fixed point on the first K samples (message
agreement of every population at every step, output state, predictions, accuracies), the
latency in Loihi steps, the wall time and the load it ran under.

Run::

    python -m benchmarks.lava_zoo --zoo build/zoo --models resnet18_digits32 -T 8 \\
        --lava-samples 50 --json docs/benchmark_lava_zoo.json
    python -m benchmarks.lava_zoo --markdown docs/benchmark_lava_zoo.json

Rows already in the JSON file are kept (a run adds or replaces its own), so models can be
measured one at a time. The zoo is trained by ``python -m samples.zoo.train``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
# the bundled max-pooling CNN (VGG-style, 16×16 digits), beside the trained zoo
BUNDLED = {
    "vgg_digits16": (
        SAMPLES / "vgg_digits16.pt", "samples.models:VGGDigits16",
        SAMPLES / "digits16_calib.npz", SAMPLES / "digits16_test.npz",
    ),
}  # fmt: skip


def arch_spec(entry: dict[str, Any]) -> str:
    """The ``--arch`` of a zoo entry (``module:callable(kwargs)``)."""
    arch = entry["arch"] if ":" in entry["arch"] else f"torchvision.models:{entry['arch']}"
    kwargs = {k: v for k, v in entry.get("kwargs", {}).items() if k != "weights"}
    return f"{arch}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def case_files(zoo: Path, entries: dict[str, Any], name: str) -> tuple:
    """``(model, --arch, calibration data, test data)`` of a zoo or bundled model."""
    if name in BUNDLED:
        return BUNDLED[name]
    entry, data = entries[name], entries[name]["dataset"]
    return (
        zoo / f"{name}.pt", arch_spec(entry),
        zoo / f"{data}_calib.npz", zoo / f"{data}_test.npz",
    )  # fmt: skip


def first_samples(test: Path, n: int | None, tmp: str) -> Path:
    """The test file, or a copy of its first ``n`` samples."""
    if n is None:
        return test
    with np.load(test) as f:
        arrays = {k: f[k][:n] for k in f.files}
    np.savez(f"{tmp}/test.npz", **arrays)
    return Path(f"{tmp}/test.npz")


def run_case(
    name: str, files: tuple, steps: int, k: int, n_test: int | None = None
) -> dict[str, Any]:
    """One ``to-lava --verify`` run in a folder of its own; its report, time and load."""
    model, arch, calib, test = files
    exe = shutil.which("sjconvert") or str(Path(sys.executable).with_name("sjconvert"))
    with tempfile.TemporaryDirectory() as tmp:
        test = first_samples(test, n_test, tmp)
        cmd = [
            exe, "to-lava", str(model), "--arch", arch, "--calib", str(calib),
            "-T", str(steps), "--verify", str(test), "--lava-samples", str(k),
            "-o", f"{tmp}/net.lpg.npz", "--json",
        ]  # fmt: skip
        load = os.getloadavg()[0]
        start = time.perf_counter()
        env = {**os.environ, "PYTHONPATH": str(SAMPLES.parent)}  # bundled --arch: samples.
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=tmp, env=env)
        seconds = time.perf_counter() - start
    row: dict[str, Any] = {"model": name, "T": steps, "lava_samples": k}
    row.update(seconds=round(seconds, 1), load=round((load + os.getloadavg()[0]) / 2, 1))
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {**row, "error": f"exit {done.returncode}: {tail}"}
    return {**row, **report_row(json.loads(done.stdout))}


def report_row(report: dict[str, Any]) -> dict[str, Any]:
    """The table's fields from a ``to-lava --verify … --json`` report."""
    verify = report["verify"]
    lava = verify.get("lava", {})
    agreement = lava.get("spike_agreement", {})
    return dict(
        latency=report["latency"],
        populations=len(report["processes"]),
        ours=sum(p["ours"] for p in report["processes"].values()),
        test_samples=verify["samples"],
        ann=verify.get("ann"),
        snn_float=verify["snn_float"],
        fixed_point=verify["fixed_point"],
        lava_accuracy=lava.get("accuracy"),
        fixed_point_same_samples=lava.get("fixed_point_accuracy"),
        min_spike_agreement=min(agreement.values()) if agreement else None,
        spike_exact=bool(agreement) and all(v == 1.0 for v in agreement.values()),
        state_equal=lava.get("state_equal"),
        prediction_agreement=lava.get("prediction_agreement"),
        lava_seconds=lava.get("seconds"),
        lava_wall_seconds=lava.get("wall_seconds"),
        lava_workers=lava.get("workers"),
        lava_samples_per_minute=lava.get("samples_per_minute"),
    )


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * v:.2f}"


def markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "| model | T | latency | populations (ours) | ANN | float SNN | fixed point | "
        "Lava samples | Lava = ours (every message, every step) | state equal | Lava acc | "
        "fixed point (same) | Lava samples/min | wall | load |"
    )
    lines = [head, "|" + "---|" * 15]
    for r in sorted(rows, key=lambda r: (r["model"], r["T"])):
        if "error" in r:
            lines.append(f"| {r['model']} | {r['T']} | {r['error']} |" + " |" * 12)
            continue
        exact = "yes" if r["spike_exact"] else f"no ({_pct(r['min_spike_agreement'])} %)"
        spm = r["lava_samples_per_minute"]
        lines.append(
            f"| {r['model']} | {r['T']} | {r['latency']} | {r['populations']} ({r['ours']}) | "
            f"{_pct(r['ann'])} | {_pct(r['snn_float'])} | {_pct(r['fixed_point'])} | "
            f"{r['lava_samples']} | {exact} | {'yes' if r['state_equal'] else 'no'} | "
            f"{_pct(r['lava_accuracy'])} | {_pct(r['fixed_point_same_samples'])} | "
            f"{'-' if spm is None else f'{spm:.1f}'} | {r['seconds']:.0f} s | {r['load']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zoo", type=Path, default=Path("build/zoo"))
    p.add_argument(
        "--models",
        default="",
        help=f"comma-separated zoo models or {', '.join(BUNDLED)} (default: the whole zoo)",
    )
    p.add_argument("-T", default="8", help="comma-separated input steps")
    p.add_argument("--lava-samples", type=int, default=50)
    p.add_argument(
        "--test-samples", type=int, help="verify on the first N test samples (default: all)"
    )
    p.add_argument("--json", type=Path, help="add this run's rows to this file")
    p.add_argument("--markdown", type=Path, help="print the table of a saved run and stop")
    args = p.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())["rows"]))
        return
    listing = args.zoo / "zoo.json"
    zoo = json.loads(listing.read_text()) if listing.exists() else {}
    names = [m for m in args.models.split(",") if m] or sorted(zoo)
    stored = json.loads(args.json.read_text()) if args.json and args.json.exists() else {}
    saved = stored.get("rows", [])
    for name in names:
        for steps in (int(t) for t in args.T.split(",")):
            files = case_files(args.zoo, zoo, name)
            row = run_case(name, files, steps, args.lava_samples, args.test_samples)
            print(json.dumps(row), flush=True)
            key = (name, steps)
            saved = [r for r in saved if (r["model"], r["T"]) != key] + [row]
            if args.json:
                args.json.write_text(json.dumps({**stored, "rows": saved}, indent=1) + "\n")
    print(markdown(saved))


if __name__ == "__main__":
    main()
