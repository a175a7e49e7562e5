"""The Loihi 2 census: every ReLU-family torchvision classifier (random weights, 64×64 input,
10 classes) through ``to-lava``'s default path and ``fit``, and its first Loihi steps in
Lava's own simulator against our fixed-point simulator.

Per model (each in a process of its own, with a time limit): the default conversion on 16
random calibration samples, the Loihi 2 network for T = 2 input steps, the fit report
(populations on Lava's processes and on ours, neuro-cores, chips, latency), and the first
``--lava-steps`` Loihi steps of one sample in ``Loihi2SimCfg(fixed_pt)``, every population's
messages compared with ours. A model Loihi 2 cannot run is refused by name, and the time
to the refusal says whether any work was done first.

    python -m benchmarks.lava_census --all --json docs/benchmark_lava_census.json
    python -m benchmarks.lava_census --markdown docs/benchmark_lava_census.json

Needs torchvision (the interop environment) and the Lava environment (found as
``to-lava --verify`` finds it).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RELU_FAMILY = (
    "alexnet", "densenet121", "densenet161", "densenet169", "densenet201", "googlenet",
    "inception_v3", "mnasnet0_5", "mnasnet0_75", "mnasnet1_0", "mnasnet1_3", "mobilenet_v2",
    "regnet_x_400mf", "regnet_x_800mf", "regnet_x_1_6gf", "regnet_x_3_2gf", "regnet_x_8gf",
    "regnet_x_16gf", "regnet_x_32gf", "resnet18", "resnet34", "resnet50", "resnet101",
    "resnet152", "resnext50_32x4d", "resnext101_32x8d", "resnext101_64x4d",
    "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "shufflenet_v2_x1_5", "shufflenet_v2_x2_0",
    "squeezenet1_0", "squeezenet1_1", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
    "vgg16_bn", "vgg19", "vgg19_bn", "wide_resnet50_2", "wide_resnet101_2",
)  # fmt: skip
KWARGS = {n: {"aux_logits": False, "init_weights": True} for n in ("googlenet", "inception_v3")}
SIZE = {"inception_v3": 75}  # torchvision's Inception v3 needs at least 75×75
STEPS = 2


def census_one(name: str, out: Path, lava_steps: int, calib: int) -> dict[str, Any]:
    """One model through to-lava's default path, fit and its first Lava steps."""
    import numpy as np
    import torch
    import torchvision

    from sjconvert.api.lava import build_lava
    from sjconvert.errors import SjconvertError
    from sjconvert.frontends.loading import DataSource
    from sjconvert.targets.lava.chip_fit import fit_report, summary
    from sjconvert.targets.lava.verification import check_in_lava

    torch.manual_seed(0)
    size = SIZE.get(name, 64)
    model = torchvision.models.get_model(name, weights=None, num_classes=10, **KWARGS.get(name, {}))
    x = torch.randn(calib, 3, size, size).numpy()
    row: dict[str, Any] = {"model": name, "input": size}
    start = time.perf_counter()
    try:
        build = build_lava(model.eval(), DataSource("random", (x, None)), STEPS)
    except SjconvertError as exc:
        return {
            **row,
            "status": "refused",
            "reason": str(exc),
            "seconds": time.perf_counter() - start,
        }
    row["to_lava_seconds"] = time.perf_counter() - start
    path = build.write(out / f"{name}.lpg.npz")[0]
    info = summary(fit_report(path), build.export.net.latency)
    table = build.export.graph.process_table()
    row.update(
        status="ok", latency=info["latency"], cores=info["cores"], chips=info["chips"],
        populations=len(table), ours=len(info["ours"]),
        neurons=sum(r["neurons"] for r in info["layers"]),
        processes=len(build.export.graph.processes),
    )  # fmt: skip
    row["peak_rss_gib"] = _peak_rss_gib()
    if lava_steps <= 0:
        path.unlink()
        return row
    pg = build.export.graph
    xs = pg.schedule(pg.encode(x[:1]))[:lava_steps]
    start = time.perf_counter()
    try:
        check = check_in_lava(build.export, xs)
    except SjconvertError as exc:
        return {**row, "lava": "failed", "lava_reason": str(exc)}
    row["lava_seconds"] = time.perf_counter() - start
    row["lava_steps"] = int(xs.shape[0])
    row["lava_exact"] = bool(
        min(check.agreement.layers.values()) == 1.0 and check.agreement.state_equal
    )
    row["lava_messages"] = int(sum(np.count_nonzero(s) for s in check.lava.spikes.values()))
    path.unlink()
    return row


def _peak_rss_gib() -> float:
    """This process's peak resident memory so far (GiB; Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _limit_memory(gib: float) -> None:
    """The child's address space capped at ``gib`` GiB (a model over it fails as MemoryError)."""
    import resource

    cap = int(gib * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def census_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every model in a process of its own (memory and time isolated)."""
    rows = _saved(args.json)
    for name in args.models or RELU_FAMILY:
        cmd = [sys.executable, "-m", "benchmarks.lava_census", "--model", name]
        cmd += ["--lava-steps", str(args.lava_steps), "--out", str(args.out)]
        cmd += ["--calib", str(args.calib)]
        start = time.perf_counter()
        found = _run_child(cmd, args.timeout, args.max_gib)
        if found is None:
            row = {"model": name, "status": "timeout", "seconds": args.timeout}
        else:
            out, err = found
            lines = [ln for ln in out.splitlines() if ln.startswith("{")]
            why = err.strip().splitlines()[-1:]
            row = (
                json.loads(lines[-1])
                if lines
                else {"model": name, "status": "error", "reason": why}
            )
        row["wall_seconds"] = time.perf_counter() - start
        row["load"] = os.getloadavg()[0]
        row["max_gib"] = args.max_gib
        print(json.dumps(row), flush=True)
        rows = [r for r in rows if r["model"] != name] + [row]
        if args.json:
            args.json.write_text(json.dumps({"rows": _ordered(rows)}, indent=1))
    return _ordered(rows)


def _run_child(cmd: list[str], timeout: float, gib: float) -> tuple[str, str] | None:
    """``(stdout, stderr)`` of one model's process, or None past ``timeout``: then it is
    interrupted (SIGINT, so its Lava launcher kills Lava's processes too), killed after 30 s."""
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: _limit_memory(gib),
    )
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        return None


def _saved(path: Path | None) -> list[dict[str, Any]]:
    """The rows of an earlier run in ``path`` (a model measured again replaces its row)."""
    return json.loads(path.read_text())["rows"] if path and path.exists() else []


def _ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    known = {n: i for i, n in enumerate(RELU_FAMILY)}
    return sorted(rows, key=lambda r: known.get(r["model"], len(known)))


def markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "model",
        "to-lava",
        "populations (ours)",
        "cores",
        "chips",
        "latency",
        "Lava steps",
        "Lava = ours",
        "peak RSS",
        "load",
    )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if r["status"] != "ok":
            why = str(r.get("reason", ""))
            why = why if len(why) < 160 else why[:157] + "…"
            if "max_gib" in r and "Memory" in why:
                why += f" (address-space cap {r['max_gib']:g} GiB)"
            after = r.get("seconds", r.get("wall_seconds", 0))
            lines.append(
                f"| {r['model']} | {r['status']} after {after:.0f} s: {why} | | | | | | | | "
                f"{r.get('load', 0):.0f} |"
            )
            continue
        lava = "yes" if r.get("lava_exact") else r.get("lava", "no" if "lava_steps" in r else "-")
        lines.append(
            f"| {r['model']} | {r['to_lava_seconds']:.0f} s | {r['populations']} ({r['ours']}) | "
            f"{r['cores']} | {r['chips']} | {r['latency']} | {r.get('lava_steps', '-')} | {lava} | "
            f"{_gib(r.get('peak_rss_gib'))} | {r.get('load', 0):.0f} |"
        )
    ok = sum(r["status"] == "ok" for r in rows)
    exact = sum(bool(r.get("lava_exact")) for r in rows)
    ran = sum(bool(r.get("lava_steps")) for r in rows)
    lines.append(
        f"\n{ok}/{len(RELU_FAMILY)} through to-lava and fit; of the {ran} run in Lava, {exact} "
        "spike-exact."
    )
    missing = [n for n in RELU_FAMILY if n not in {r["model"] for r in rows}]
    if missing:
        lines.append(f"\nNot run: {', '.join(missing)}.")
    return "\n".join(lines)


def _gib(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} GiB"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="one model (prints one JSON line)")
    parser.add_argument("--all", action="store_true", help="every model, one process each")
    parser.add_argument(
        "--models",
        nargs="*",
        help="with --all: these models only (rows of other models in --json stay)",
    )
    parser.add_argument("--lava-steps", type=int, default=6, help="0: no Lava run")
    parser.add_argument("--calib", type=int, default=16)
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--max-gib", type=float, default=8.0, help="address space per model")
    parser.add_argument("--out", type=Path, default=Path("build/census"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path, help="print the table of a saved run")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())["rows"]))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    if args.model:
        print(
            json.dumps(census_one(args.model, args.out, args.lava_steps, args.calib), default=float)
        )
        return
    census_all(args)


if __name__ == "__main__":
    main()
