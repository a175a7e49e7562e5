"""SpikingJelly 2.0 ann2snn baselines on the trained model zoo.

Usage::

    python -m benchmarks.zoo_spikingjelly --zoo DIR --out FILE.json [--models ...]

For every zoo model trained into ``DIR`` (``python -m samples.zoo.train --out DIR``)
this converts the ANN with ``spikingjelly.activation_based.ann2snn.FXConverter``
under each recipe in :data:`RECIPES` (the options SpikingJelly 2.0 offers for ReLU
CNNs: ``RateCodingRecipe`` modes max / percentile / fraction of max, layer-wise or
``channel_wise``, ``half_threshold``, ``pre_spike_maxpool``, a hard-reset
``neuron_factory``, and ``LocalThresholdBalancingRecipe``), calibrates on the
calibration split (512 samples, batches of 128) and simulates the first ``--n-test``
test samples once for 64 steps, feeding the same analog input every step. The
prediction at T is the argmax of the output summed over the first T steps (``acc``),
or over steps ``delay_start .. T-1`` with SpikingJelly's ``estimate_delay_start``
(``acc_delay``, reported as ``<recipe>+delay``). A conversion error is recorded with
the first line of its message.

The transformer recipes (``TransformerTDEquivalentRecipe``, ``STATransformerRecipe``,
``SpikeZIPTFQANNRecipe``, ``Qwen2SNNRecipe``) target attention models or
quantised ANNs and are not rate-coded CNN conversions, so they are not run.
``fuse_flag=False`` only keeps BN unfused (an equivalent affine map) and is not run.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import fx, nn

from samples.zoo import DEFAULT_DIR, load
from samples.zoo.models import ZOO

T_STEPS = (1, 2, 4, 8, 16, 32, 64)
N_TEST = 500
CALIB_BATCH = 128
TEST_BATCH = 100
PREPOOL = "cw_p99.9_half_prepool"

Batches = list[tuple[torch.Tensor, torch.Tensor]]


def _rate(dl: Batches, **kwargs: Any) -> Any:
    from spikingjelly.activation_based import ann2snn

    return ann2snn.RateCodingRecipe(dataloader=dl, **kwargs)


def _hard_reset_if(scale: float) -> nn.Module:
    from spikingjelly.activation_based import neuron

    return neuron.IFNode(v_reset=0.0)


def _ltb(dl: Batches) -> Any:
    from spikingjelly.activation_based import ann2snn

    return ann2snn.LocalThresholdBalancingRecipe(dataloader=dl)


# name -> (description, factory taking the calibration batches)
RECIPES: dict[str, tuple[str, Callable[[Batches], Any]]] = {
    "lw_max": ("RateCodingRecipe(mode='max')", lambda dl: _rate(dl, mode="max")),
    "lw_p99.9": ("RateCodingRecipe(mode='99.9%')", lambda dl: _rate(dl, mode="99.9%")),
    "lw_0.5max": ("RateCodingRecipe(mode=0.5)", lambda dl: _rate(dl, mode=0.5)),
    "lw_p99.9_hard": (
        "RateCodingRecipe(mode='99.9%', neuron_factory=lambda s: IFNode(v_reset=0.0))",
        lambda dl: _rate(dl, mode="99.9%", neuron_factory=_hard_reset_if),
    ),
    "cw_max": (
        "RateCodingRecipe(mode='max', channel_wise=True)",
        lambda dl: _rate(dl, mode="max", channel_wise=True),
    ),
    "cw_p99.9": (
        "RateCodingRecipe(mode='99.9%', channel_wise=True)",
        lambda dl: _rate(dl, mode="99.9%", channel_wise=True),
    ),
    "cw_p99.9_half": (
        "RateCodingRecipe(mode='99.9%', channel_wise=True, half_threshold=True)",
        lambda dl: _rate(dl, mode="99.9%", channel_wise=True, half_threshold=True),
    ),
    PREPOOL: (
        "RateCodingRecipe(mode='99.9%', channel_wise=True, half_threshold=True, "
        "pre_spike_maxpool=True) (run only where a ReLU feeds a MaxPool2d)",
        lambda dl: _rate(
            dl, mode="99.9%", channel_wise=True, half_threshold=True, pre_spike_maxpool=True
        ),
    ),
    "ltb": ("LocalThresholdBalancingRecipe() on the calibration batches of 128", _ltb),
    "ltb_b16x4": (
        "LocalThresholdBalancingRecipe() on the calibration split in batches of 16, four "
        "passes (128 threshold updates; the iterative rule needs many batches)",
        lambda dl: _ltb(rebatch(dl, 16) * 4),
    ),
}


def to_batches(x: np.ndarray, y: np.ndarray, batch: int) -> Batches:
    """Cut arrays into ``(x, y)`` tensor batches."""
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    return [(xt[i : i + batch], yt[i : i + batch]) for i in range(0, len(yt), batch)]


def rebatch(batches: Batches, size: int) -> Batches:
    """The same samples cut into batches of ``size``."""
    x, y = (torch.cat(parts) for parts in zip(*batches, strict=True))
    return [(x[i : i + size], y[i : i + size]) for i in range(0, len(y), size)]


def relu_feeds_maxpool(model: nn.Module) -> bool:
    """Whether some ``nn.ReLU`` output goes only into an ``nn.MaxPool2d`` (FX trace)."""
    try:
        graph = fx.symbolic_trace(model)
    except Exception:  # untraceable: let SpikingJelly report its own error
        return True
    mods = dict(graph.named_modules())
    return any(
        n.op == "call_module"
        and type(mods.get(n.target)) is nn.ReLU
        and len(n.users) == 1
        and isinstance(mods.get(next(iter(n.users)).target), nn.MaxPool2d)
        for n in graph.graph.nodes
    )


@torch.no_grad()
def ann_accuracy(model: nn.Module, test: Batches) -> float:
    """Top-1 accuracy of the ANN on the test batches."""
    correct = sum(int((model(x).argmax(1) == y).sum()) for x, y in test)
    return correct / sum(len(y) for _, y in test)


@torch.no_grad()
def simulate(snn: nn.Module, test: Batches, steps: int = max(T_STEPS)) -> torch.Tensor:
    """Per-step outputs ``[steps, N, classes]`` of the SNN on the test batches."""
    from spikingjelly.activation_based import functional

    snn.eval()
    outputs = []
    for x, _ in test:
        functional.reset_net(snn)
        outputs.append(torch.stack([snn(x) for _ in range(steps)]))
    functional.reset_net(snn)
    return torch.cat(outputs, dim=1)


def readout(outputs: torch.Tensor, y: torch.Tensor, t: int, start: int = 0) -> float:
    """Accuracy of the argmax of the outputs summed over steps ``start .. t - 1``."""
    return round(float((outputs[start:t].sum(0).argmax(1) == y).float().mean()), 4)


def delay_starts(snn: nn.Module, calib: Batches) -> dict[int, int]:
    """SpikingJelly's ``estimate_delay_start`` for every T (one calibration batch)."""
    from spikingjelly.activation_based import ann2snn

    return {t: ann2snn.estimate_delay_start(snn, calib, "cpu", t) for t in T_STEPS}


def count_neurons(snn: nn.Module) -> int:
    """Number of SpikingJelly neuron modules in a converted model."""
    from spikingjelly.activation_based import neuron

    return sum(isinstance(m, neuron.BaseNode) for m in snn.modules())


def run_recipe(name: str, ann: nn.Module, calib: Batches, test: Batches) -> dict:
    """Convert ``ann`` with recipe ``name`` and simulate; errors become ``{"error": ...}``.

    ``acc`` reads out from step 0; ``acc_delay`` starts the readout at SpikingJelly's
    ``estimate_delay_start`` for that T (``delay_start``).
    """
    from spikingjelly.activation_based import ann2snn

    start = time.perf_counter()
    try:
        recipe = RECIPES[name][1](calib)
        with contextlib.redirect_stderr(io.StringIO()):  # calibration progress bars
            snn = ann2snn.FXConverter(recipe=recipe, device="cpu").convert(copy.deepcopy(ann))
        neurons = count_neurons(snn)
        if neurons == 0:
            raise RuntimeError("conversion produced no spiking neurons")
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        return {"error": f"{type(exc).__name__}: {first}"}
    outputs, y = simulate(snn, test), torch.cat([y for _, y in test])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "time_steps is too small ..."
        delays = delay_starts(snn, calib)
    return {
        "acc": {str(t): readout(outputs, y, t) for t in T_STEPS},
        "acc_delay": {str(t): readout(outputs, y, t, d) for t, d in delays.items()},
        "delay_start": {str(t): d for t, d in delays.items()},
        "neurons": neurons,
        "seconds": round(time.perf_counter() - start, 1),
    }


def best_per_t(results: dict[str, dict]) -> dict[str, dict]:
    """For each T the best recipe and readout (``+delay``: delayed readout); ties: first."""
    ok = {}
    for name, r in results.items():
        if "acc" in r:
            ok[name], ok[f"{name}+delay"] = r["acc"], r["acc_delay"]
    if not ok:
        return {}
    best = {}
    for t in map(str, T_STEPS):
        name = max(ok, key=lambda n: ok[n][t])
        best[t] = {"recipe": name, "acc": ok[name][t]}
    return best


def run_model(name: str, zoo_dir: Path, n_test: int, recipes: list[str]) -> dict:
    """All recipes on one zoo model."""
    ann, test_arrays, calib_arrays = load(name, zoo_dir)
    test = to_batches(test_arrays["x"][:n_test], test_arrays["y"][:n_test], TEST_BATCH)
    calib = to_batches(calib_arrays["x"], calib_arrays["y"], CALIB_BATCH)
    entry = ZOO[name]
    has_pool = relu_feeds_maxpool(ann)
    results = {}
    for recipe in recipes:
        if recipe == PREPOOL and not has_pool:
            results[recipe] = {"skipped": "no ReLU -> MaxPool2d pattern"}
            continue
        results[recipe] = run_recipe(recipe, ann, calib, test)
        print(f"  {name} {recipe}: {_summary(results[recipe])}", flush=True)
    errors = [r["error"] for r in results.values() if "error" in r]
    best = best_per_t(results)
    return {
        "arch": entry.arch,
        "dataset": entry.dataset,
        "n_test": sum(len(y) for _, y in test),
        "n_calib": len(calib_arrays["y"]),
        "ann_acc": round(ann_accuracy(ann, test), 4),
        "recipes": results,
        "best": best,
        "failure": errors[0] if errors and not best else None,
    }


def _summary(result: dict) -> str:
    if "acc" not in result:
        return result.get("error") or result.get("skipped", "")
    accs = " ".join(f"T{t}={a:.3f}" for t, a in result["acc"].items())
    return f"{accs} ({result['seconds']:.0f} s)"


def table(models: dict[str, dict]) -> str:
    """Markdown table: ANN accuracy and SpikingJelly's best accuracy (recipe) per T."""
    head = "| model | ANN | " + " | ".join(f"T={t}" for t in T_STEPS) + " |"
    lines = [head, "|" + "---|" * (len(T_STEPS) + 2)]
    for name, m in models.items():
        if m["best"]:
            cells = [f"{100 * b['acc']:.1f} ({b['recipe']})" for b in m["best"].values()]
        else:
            cells = [f"fails: {m['failure'] or 'see recipes'}"] + [""] * (len(T_STEPS) - 1)
        lines.append(f"| {name} | {100 * m['ann_acc']:.1f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def header(n_test: int) -> dict:
    """Run settings recorded at the top of the JSON file."""
    from importlib.metadata import version

    return {
        "spikingjelly": version("spikingjelly"),
        "torch": torch.__version__,
        "T": list(T_STEPS),
        "n_test_max": n_test,
        "test_subset": "first min(n_test_max, len(test)) samples of each test split",
        "calibration": f"the 512-sample calibration split in batches of {CALIB_BATCH}",
        "prediction": "argmax of the output summed over the first T steps",
        "recipes": {name: desc for name, (desc, _) in RECIPES.items()},
        "threads": torch.get_num_threads(),
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point; writes the JSON after every model and prints the summary table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.zoo_spikingjelly")
    parser.add_argument("--zoo", type=Path, default=DEFAULT_DIR, help="trained zoo folder")
    parser.add_argument("--out", type=Path, default=Path("docs/zoo_spikingjelly.json"))
    parser.add_argument("--models", nargs="*", default=None, help="default: all in --zoo")
    parser.add_argument("--recipes", nargs="*", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--n-test", type=int, default=N_TEST)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--resume", action="store_true", help="keep models already in --out")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = args.models or [n for n in ZOO if (args.zoo / f"{n}.pt").exists()]
    old = json.loads(args.out.read_text()) if args.resume and args.out.exists() else {}
    report = {**header(args.n_test), "models": old.get("models", {})}
    for name in names:
        if name in report["models"]:
            continue
        print(f"{name}:", flush=True)
        report["models"][name] = run_model(name, args.zoo, args.n_test, args.recipes)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    print(table(report["models"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
