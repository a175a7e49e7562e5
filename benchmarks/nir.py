"""NIR and SpikingJelly-conversion fidelity on the bundled samples.

Run: ``.venv/bin/python -m benchmarks.nir [--json out.json]`` (needs SpikingJelly 2.0).

1. SpikingJelly-converted models: each sample ANN converted by SpikingJelly's own
   ``ann2snn.Converter`` (``RateCodingRecipe``, 99.9 %, scalar and channel-wise scalers),
   captured by sjconvert, with and without :func:`fold_scales`; spikes per step compared with
   SpikingJelly's forward on the test set at T = 32 (mismatching spikes / all spikes) and the
   top-1 agreement of the outputs.
2. Lossy NIR export: sjconvert's own conversion (soft reset, ``v_init`` as converted) and the
   accuracy after ``soft-reset-as-hard`` (+ ``v-init-as-reset``, ``maxpool-as-avgpool``
   where needed) at T = 8, 32, 64 — what ``to-nir --lossy`` prints.
"""

from __future__ import annotations

import argparse
import json
import warnings

import torch
from rich.console import Console
from rich.table import Table
from torch import nn

from samples import SAMPLE_NAMES, load
from sjconvert.api import ann2snn, measure_lossy
from sjconvert.exec import Simulator
from sjconvert.frontends import capture
from sjconvert.ir.graph import Graph
from sjconvert.passes import fold_scales
from sjconvert.targets.nir import LOSSY, lossy

T = 32
STEPS = (8, 32, 64)


def spikingjelly_run(
    snn: nn.Module, x: torch.Tensor
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    from spikingjelly.activation_based import functional

    record: dict[str, list[torch.Tensor]] = {}
    names = [n for n, m in snn.named_modules() if type(m).__name__ == "IFNode"]
    hooks = [
        snn.get_submodule(n).register_forward_hook(
            lambda m, i, o, n=n: record.setdefault(n, []).append(o)
        )
        for n in names
    ]
    functional.reset_net(snn)
    with torch.no_grad():
        out = torch.stack([snn(x) for _ in range(T)]).mean(0)
    for h in hooks:
        h.remove()
    return {n: torch.stack(record[n]) for n in names}, out


def sjconvert_run(graph: Graph, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Per-step spikes of every neuron, keyed by the module it was captured from."""
    neurons = [n for n, node in graph if node.spiking]
    probe = Graph(graph.nodes, graph.edges, (*neurons, *graph.outputs), graph.shapes)
    res = Simulator(probe).run(x, T=T)
    spikes = {}
    for n in neurons:
        steps = torch.arange(1, T + 1).reshape(-1, *[1] * (res.outputs[n].ndim - 1))
        count = torch.round(res.outputs[n] * steps)
        step = torch.diff(count, dim=0, prepend=torch.zeros_like(count[:1]))
        spikes[graph.meta["source"][n]] = step
    return spikes, res.outputs[graph.outputs[0]][-1]


def spikingjelly_rows(sample: str) -> list[dict]:
    from spikingjelly.activation_based import ann2snn as sj

    model, test, calib = load(sample)
    x = torch.as_tensor(test["x"][:512]).float()
    loader = [torch.as_tensor(calib["x"][i : i + 256]).float() for i in range(0, 512, 256)]
    rows = []
    for channel_wise in (False, True):
        recipe = sj.RateCodingRecipe(loader, mode="99.9%", channel_wise=channel_wise)
        snn = sj.Converter(recipe).convert(model)
        want, want_out = spikingjelly_run(snn, x)
        raw = capture(snn, x[:2])
        for label, graph in (("captured", raw), ("folded", fold_scales(raw))):
            got, out = sjconvert_run(graph, x)
            assert set(got) == set(want)
            diff = sum(int((got[n] != w).sum()) for n, w in want.items())
            total = sum(int(w.sum()) for w in want.values())
            agree = float((out.argmax(-1) == want_out.argmax(-1)).float().mean())
            rows.append(
                {
                    "sample": sample,
                    "scalers": "channel" if channel_wise else "layer",
                    "graph": label,
                    "spikes": total,
                    "mismatching": diff,
                    "top1_agreement": agree,
                }
            )
    return rows


def lossy_rows(sample: str) -> list[dict]:
    model, test, calib = load(sample)
    conv = ann2snn(model, [torch.as_tensor(calib["x"]).float()])
    needed = lossy.needed(conv.snn, ())
    mapped, _ = lossy.apply(conv.snn, needed)
    data = [(torch.as_tensor(test["x"]).float(), torch.as_tensor(test["y"]))]
    rep = measure_lossy(conv.snn, mapped, data, STEPS)
    return [
        {
            "sample": sample,
            "lossy": "+".join(k for k in LOSSY if k in needed),
            "T": t,
            "before": rep.before[t],
            "after": rep.after[t],
        }
        for t in STEPS
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    sj_rows = [r for s in SAMPLE_NAMES for r in spikingjelly_rows(s)]
    lo_rows = [r for s in SAMPLE_NAMES for r in lossy_rows(s)]
    console = Console(width=140)
    t1 = Table(title=f"SpikingJelly ann2snn output captured by sjconvert (T={T}, test sets)")
    for col in ("sample", "scalers", "graph", "spikes", "mismatching", "top-1 agreement"):
        t1.add_column(col)
    for r in sj_rows:
        t1.add_row(
            r["sample"],
            r["scalers"],
            r["graph"],
            str(r["spikes"]),
            str(r["mismatching"]),
            f"{r['top1_agreement']:.4f}",
        )
    t2 = Table(title="Lossy NIR export: accuracy before -> after")
    for col in ("sample", "lossy mappings", "T", "before", "after"):
        t2.add_column(col)
    for r in lo_rows:
        t2.add_row(r["sample"], r["lossy"], str(r["T"]), f"{r['before']:.4f}", f"{r['after']:.4f}")
    console.print(t1)
    console.print(t2)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"spikingjelly": sj_rows, "lossy": lo_rows}, f, indent=1)


if __name__ == "__main__":
    main()
