"""SpikingJelly 2.0's recipes on the modern zoo (``benchmarks.modern``): its spiking
transformer recipe, ``STATransformerRecipe(mode="spiking_encoder")``, at each T, with the
share of its operations that is spike-driven measured the way ours is
(:mod:`sjconvert.exec.workload`), and the CNN recipes of ``benchmarks.zoo_spikingjelly``.

STA is calibrated for one ``time_steps``; each T gets its own conversion (threshold scales
0.5, as SpikingJelly's ImageNet example, and 1.0; the better one counts) and is evaluated
as SpikingJelly's example does: the image at the first step, zeros after, the output summed
over the T steps. ``mode="equivalent"`` and ``TransformerTDEquivalentRecipe`` spike
nowhere (they are exact float reformulations), so they are not spiking baselines.

What spikes in STA: its encoders send ``trunc(V/θ)`` spikes per value and step (unbounded
bursts, per-feature θ) after LayerNorm, GELU and attention; a Linear or convolution whose
input is an encoder's output is counted spike-driven (spikes × its fan-out), every other
synapse dense (its MACs at every step: the attention's output projection, the patch
embedding after the first step aside), and LayerNorm, GELU, softmax and the attention
products as evaluations and MACs per step, as ours are.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import time
import warnings
from typing import Any

import torch
from torch import nn

SCALES = (0.5, 1.0)
BATCH = 100


def _batches(x: torch.Tensor, size: int = BATCH) -> list[torch.Tensor]:
    return [x[i : i + size] for i in range(0, len(x), size)]


class _Meter:
    """Forward hooks counting STA's spikes and every op's work per sample."""

    def __init__(self, snn: nn.Module) -> None:
        self.encoded: dict[int, torch.Tensor] = {}
        self.sops = self.dense = self.evals = 0.0
        self.max_burst = 0.0
        self.handles = [m.register_forward_hook(self._hook) for m in snn.modules()]

    def _hook(self, mod: nn.Module, args: Any, out: Any) -> None:
        name = type(mod).__name__
        x = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if name == "_STASpikeEncoder":
            counts = (out / mod.v_threshold.reshape(-1)).round().abs()
            self.encoded[id(out)] = counts
            self.max_burst = max(self.max_burst, float(counts.max()))
        elif name in ("TDLinear", "TDConv2d") and x is not None:
            per_out = mod.in_features if name == "TDLinear" else _conv_fan_in(mod)
            fan_out = out.numel() / max(1, x.numel()) * per_out  # weights per input value
            if id(x) in self.encoded:
                self.sops += float(self.encoded[id(x)].sum()) * fan_out
            else:
                self.dense += out.numel() * per_out
        elif name == "TDMultiheadAttention" and x is not None:
            *_, n, e = x.shape
            self.dense += 2 * x[..., :1, :1].numel() * n * n * e  # Q Kᵀ and A V
            self.evals += x[..., :1, :1].numel() * mod.num_heads * n * n  # softmax
        elif name in ("TDLayerNorm", "TDGELU") and isinstance(out, torch.Tensor):
            self.evals += out.numel()

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def _conv_fan_in(mod: nn.Module) -> int:
    return mod.in_channels // mod.groups * math.prod(mod.kernel_size)


def sta_at(model: nn.Module, calib: torch.Tensor, yc: torch.Tensor, x, y, steps: int) -> dict:
    """STA spiking-encoder conversions for ``steps`` (each threshold scale): accuracy after
    ``steps`` steps, the spike-driven share, the largest burst; the best scale first."""
    from spikingjelly.activation_based import ann2snn, functional

    dl = [(calib[i : i + 64], yc[i : i + 64]) for i in range(0, len(calib), 64)]
    rows = []
    for scale in SCALES:
        start = time.perf_counter()
        try:
            rec = ann2snn.STATransformerRecipe(
                dataloader=dl, time_steps=steps, mode="spiking_encoder", threshold_scale=scale
            )
            with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                snn = ann2snn.Converter(recipe=rec, device="cpu").convert(copy.deepcopy(model))
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [""])[0]
            return {"error": f"{type(exc).__name__}: {first}"}
        snn.eval()
        functional.set_step_mode(snn, "m")
        meter, correct = _Meter(snn), 0
        with torch.no_grad():
            for xb, yb in zip(_batches(x), _batches(y), strict=True):
                functional.reset_net(snn)
                seq = torch.zeros(steps, *xb.shape)
                seq[0] = xb
                correct += int((snn(seq).sum(0).argmax(-1) == yb).sum())
        meter.close()
        n = len(y)
        ops = meter.sops + meter.dense + meter.evals
        rows.append(
            {
                "threshold_scale": scale,
                "accuracy": correct / n,
                "spike_driven": meter.sops / ops if ops else 0.0,
                "max_spikes_per_step": meter.max_burst,
                "sops_per_sample": meter.sops / n,
                "seconds": time.perf_counter() - start,
            }
        )
    return max(rows, key=lambda r: r["accuracy"]) | {"all": rows}


def sta(model: nn.Module, calib: dict, test: dict, steps: tuple[int, ...]) -> dict[str, Any]:
    """:func:`sta_at` for each T in ``steps``."""
    xc, yc = torch.as_tensor(calib["x"]), torch.as_tensor(calib["y"])
    x, y = torch.as_tensor(test["x"]), torch.as_tensor(test["y"])
    out = {}
    for t in steps:
        out[str(t)] = sta_at(model, xc, yc, x, y, t)
        print(f"    STA T={t}: {out[str(t)].get('accuracy', out[str(t)].get('error'))}", flush=True)
        if "error" in out[str(t)]:
            break
    return out


def cnn_recipes(model: nn.Module, calib: dict, test: dict) -> dict[str, Any]:
    """Every CNN recipe of ``benchmarks.zoo_spikingjelly`` (its errors included)."""
    from benchmarks.zoo_spikingjelly import CALIB_BATCH, RECIPES, best_per_t, run_recipe, to_batches

    cal = to_batches(calib["x"], calib["y"], CALIB_BATCH)
    data = to_batches(test["x"], test["y"], BATCH)
    results = {r: run_recipe(r, model, cal, data) for r in RECIPES if r != "cw_p99.9_half_prepool"}
    return {"recipes": results, "best": best_per_t(results)}
