"""Pictures of a simulation and of a parity report (matplotlib, the optional ``plot`` extra).

The numbers come from the result objects as they are, never recomputed: an
:class:`~sjconvert.exec.evaluate.Evaluation` (``simulate --plot``) gives accuracy per T, the
ANN's accuracy and spikes per sample; every series keyed by T in its JSON (``{"<T>": value}``
or ``{"<T>": {"name": value}}``: spikes, synaptic operations, energy per T) is drawn against
T, so a cost estimate added to the evaluation appears without changes here. Firing rates per
layer are spikes per sample / (neurons × T).
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from ..exec.evaluate import Evaluation
from ..ir.files import atomic_write
from ..ir.graph import Graph
from .parity import neurons_per_layer
from .report import ParityReport

WIDTH, HEIGHT = 12.0, 8.0


def _matplotlib() -> Any:
    try:
        import matplotlib.figure
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'sjconvert[plot]'") from None
    return matplotlib.figure


def plot_format(path: str | Path) -> str:
    """The image format of a plot file, from its name (``.png``, ``.pdf``, ``.svg``, ...:
    what matplotlib writes); a name without one, or with another, is refused before any
    work, as is a missing matplotlib."""
    figure = _matplotlib()
    kinds = figure.Figure().canvas.get_supported_filetypes()
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in kinds:
        given = f"'.{suffix}' is not an image type" if suffix else "it has no file type"
        raise InputError(
            f"--plot {path}: {given}; give a name ending in .png, .pdf or .svg "
            f"(matplotlib writes {', '.join(sorted(kinds))})"
        )
    return suffix


def _figure(rows: int, cols: int) -> Any:
    fig = _matplotlib().Figure(figsize=(WIDTH, HEIGHT), layout="constrained")
    return fig, fig.subplots(rows, cols, squeeze=False)


def _save(fig: Any, path: str | Path) -> Path:
    kind = plot_format(path)
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format=kind, dpi=110))


def cost_series(result: dict[str, Any]) -> dict[str, dict[int, float]]:
    """Every series keyed by T in an evaluation's JSON other than accuracy (``snn``), at the
    top level or one group down (``cost_per_sample``: spikes, synops, energy_joules)."""
    series: dict[str, dict[int, float]] = {}
    for key, value in result.items():
        if key == "snn" or not isinstance(value, dict) or not value:
            continue
        if not all(k.isdigit() for k in map(str, value)):  # a group: its T-keyed members
            for name, inner in cost_series(value).items():
                series.setdefault(name, {}).update(inner)
            continue
        for t, v in value.items():
            items = v.items() if isinstance(v, dict) else [(key, v)]
            for name, number in items:
                if isinstance(number, (int, float)):
                    series.setdefault(str(name), {})[int(t)] = float(number)
    return series


def _log2_steps(ax: Any, steps: list[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(steps, [str(t) for t in steps])
    ax.set_xlabel("time steps T")
    ax.grid(True, alpha=0.3)


def _accuracy(ax: Any, ev: Evaluation) -> None:
    steps = list(ev.snn)
    metric = "accuracy" if ev.labelled else "agreement with the ANN"
    ax.plot(steps, [100 * ev.snn[t] for t in steps], "o-", label="SNN")
    if ev.ann is not None:
        ax.axhline(100 * ev.ann, color="tab:red", ls="--", label=f"ANN ({100 * ev.ann:.2f} %)")
    _log2_steps(ax, steps)
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(f"{metric.capitalize()} against T")
    ax.legend(loc="lower right")


def _cost(ax: Any, ev: Evaluation, series: dict[str, dict[int, float]], energy: bool) -> None:
    chosen = {k: v for k, v in series.items() if ("energy" in k.lower()) == energy}
    what = "Estimated energy" if energy else "Spikes and synaptic operations"
    ax.set_title(f"{what} per sample against T")
    if not chosen and energy:
        ax.text(0.5, 0.5, "no energy estimate in this evaluation", ha="center", va="center")
        ax.set_axis_off()
        return
    if not chosen:  # only the total at the largest T
        t = max(ev.snn)
        chosen = {"spikes_per_sample (at the largest T only)": {t: ev.spikes_per_sample}}
    for name, values in chosen.items():
        ts = sorted(values)
        ax.plot(ts, [values[t] for t in ts], "o-", label=name.replace("_", " "))
    ann = (ev.to_dict().get("cost_per_sample") or {}).get("ann_energy_joules")
    if energy and ann:
        ax.axhline(ann, color="tab:red", linestyle="--", label="ANN")
        ax.legend(loc="upper left", fontsize="small")
    if all(v > 0 for values in chosen.values() for v in values.values()):
        ax.set_yscale("log")  # spikes and synaptic operations differ by orders of magnitude
    _log2_steps(ax, list(ev.snn))
    ax.set_ylabel("joules per sample" if energy else "per sample")
    ax.legend(loc="upper left", fontsize="small")


def _rates(ax: Any, spikes: dict[str, float], neurons: dict[str, int], T: int, title: str) -> None:
    layers = [k for k in spikes if k in neurons]
    rates = [spikes[k] / (neurons[k] * T) for k in layers]
    ax.barh(range(len(layers)), rates, color="tab:green")
    ax.set_yticks(range(len(layers)), layers)
    ax.invert_yaxis()
    ax.set_xlabel(f"spikes per neuron per step (T={T})")
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)


def plot_simulation(ev: Evaluation, path: str | Path, graph: Graph, title: str = "") -> Path:
    """Accuracy against T beside the ANN's, spikes / synaptic operations and energy against
    T (as far as the evaluation has them), and the firing rate of each layer."""
    fig, ax = _figure(2, 2)
    series = cost_series(ev.to_dict())
    _accuracy(ax[0, 0], ev)
    _cost(ax[0, 1], ev, series, energy=False)
    _cost(ax[1, 0], ev, series, energy=True)
    t = max(ev.snn)
    _rates(ax[1, 1], ev.per_layer_spikes, neurons_per_layer(graph), t, "Firing rate per layer")
    fig.suptitle(title or f"{ev.samples} samples")
    return _save(fig, path)


def plot_parity(report: ParityReport, path: str | Path, title: str = "") -> Path:
    """Accuracy per backend beside the ANN's, prediction and spike agreement per backend,
    spike agreement per layer, and the reference's firing rate per layer."""
    fig, ax = _figure(2, 2)
    ran = [r for r in report.rows if r.agreement is not None]
    t = max(report.steps)
    last = [r for r in ran if r.steps == t]
    _parity_accuracy(ax[0, 0], report, ran)
    _agreement_bars(ax[0, 1], last, t)
    _layer_heatmap(ax[1, 0], last, t)
    ref = next((r.agreement for r in last if r.backend == "torch"), None) or (
        last[0].agreement if last else None
    )
    spikes = {} if ref is None else ref.layer_spikes_reference
    _rates(ax[1, 1], spikes, report.neurons, t, "Reference firing rate per layer")
    left = [f"{r.backend} T={r.steps} {r.status}" for r in report.rows if r.agreement is None]
    verdict = "passed" if report.passed else f"FAILED: {'; '.join(report.failures)}"
    lines = [f"{title or 'parity'}: {report.samples} samples, requirements {verdict}"]
    lines += textwrap.wrap("not run: " + ", ".join(left), 160) if left else []
    fig.suptitle("\n".join(lines))
    return _save(fig, path)


def _parity_accuracy(ax: Any, report: ParityReport, ran: list[Any]) -> None:
    names = list(dict.fromkeys(r.backend for r in ran))
    width = 0.8 / max(len(report.steps), 1)
    for i, t in enumerate(report.steps):
        acc = {r.backend: r.agreement.accuracy for r in ran if r.steps == t}
        values = [100 * (acc.get(n) or math.nan) for n in names]
        ax.bar(np.arange(len(names)) + i * width, values, width, label=f"T={t}")
    if report.ann_accuracy is not None:
        ann = 100 * report.ann_accuracy
        ax.axhline(ann, color="tab:red", ls="--", label=f"ANN ({ann:.2f} %)")
    ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2, names, rotation=30, ha="right")
    finite = [p.get_height() for p in ax.patches if math.isfinite(p.get_height())]
    ax.set_ylim(max(0.0, min(finite, default=0.0) - 5), 100.5)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy per backend")
    ax.legend(loc="lower left", fontsize="small")


def _agreement_bars(ax: Any, rows: list[Any], T: int) -> None:
    names = [r.backend for r in rows]
    x = np.arange(len(names))
    pred = [100 * r.agreement.prediction_agreement for r in rows]
    spikes = [100 * (r.agreement.spike_count_agreement or math.nan) for r in rows]
    ax.bar(x - 0.2, pred, 0.4, label="predictions")
    ax.bar(x + 0.2, spikes, 0.4, label="spike counts (n/a: not drawn)")
    ax.set_xticks(x, names, rotation=30, ha="right")
    low = min([v for v in pred + spikes if math.isfinite(v)], default=100.0)
    ax.set_ylim(max(0.0, low - 2), 100.5)
    ax.set_ylabel("agreement with the reference (%)")
    ax.set_title(f"Agreement per backend (T={T})")
    ax.legend(loc="lower left", fontsize="small")


def _layer_heatmap(ax: Any, rows: list[Any], T: int) -> None:
    rows = [r for r in rows if r.agreement.layers]
    layers = list(dict.fromkeys(k for r in rows for k in r.agreement.layers))
    ax.set_title(f"Spike-count agreement per layer (T={T}, %)")
    if not rows:
        ax.text(0.5, 0.5, "no per-layer spike counts", ha="center", va="center")
        ax.set_axis_off()
        return
    grid = np.array([[100 * r.agreement.layers.get(k, math.nan) for k in layers] for r in rows])
    low = min(95.0, float(np.nanmin(grid)))
    image = ax.imshow(grid, vmin=low, vmax=100, cmap="viridis")
    ax.set_xticks(range(len(layers)), layers, rotation=60, ha="right", fontsize="x-small")
    ax.set_yticks(range(len(rows)), [r.backend for r in rows])
    for (i, j), v in np.ndenumerate(grid):
        shade = "k" if v > (low + 100) / 2 else "w"  # dark text on the bright end of viridis
        ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize="x-small", color=shade)
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
