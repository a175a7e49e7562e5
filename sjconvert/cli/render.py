"""Rich tables for the CLI (graphs and simulation results)."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.table import Table

from ..exec.shapes import with_shapes
from ..exec.workload import Workload, workload
from ..ir import nodes as ir
from ..ir.graph import Graph

DEFAULTS = {"stride": 1, "padding": 0, "dilation": 1}
FRACTION_STEPS = (1, 4, 8, 16, 32, 64)  # the T at which inspect shows the spike-driven share


def _num(v: Any) -> str:
    arr = np.asarray(v)
    if arr.ndim == 0:
        return f"{float(arr):.4g}"
    return f"[{arr.min():.3g}…{arr.max():.3g}]×{arr.size}"


def _neuron(node: Any) -> str:
    """Threshold, reset and the neuron's own constants (τ, decays, signed bursts)."""
    reset = "soft" if node.v_reset is None else f"hard→{node.v_reset:g}"
    extra = f" τ={node.tau:.4g}" if isinstance(node, ir.LIF) else ""
    if isinstance(node, ir.CubaLIF):
        extra = f" α={node.c_decay:.4g} β={node.v_decay:.4g}"
    if node.signed:
        kind = "bipolar" if node.bipolar else "signed"
        extra = f" {kind}, ≤{getattr(node, 'max_spikes', 1)} spike(s)/step"
    return f"θ={_num(node.v_threshold)} {reset}{extra}"


def describe(node: ir.Node) -> tuple[str, str]:
    """(parameters, neuron) columns for one node."""
    parts = []
    for key, value in node.params().items():
        if isinstance(value, np.ndarray):
            parts.append(f"{key} {'×'.join(map(str, value.shape)) or 'scalar'}")
        elif key == "kernel_size" or (key in DEFAULTS and any(v != DEFAULTS[key] for v in value)):
            parts.append(f"{key}={','.join(map(str, value))}")
        elif key == "groups" and value != 1:
            parts.append(f"groups={value}")
    if isinstance(node, ir.Input) and node.sequence:
        parts.append("sequence (one value per step)")
    neuron = ""
    if node.spiking:
        neuron = _neuron(node)
    elif isinstance(node, ir.LI):
        neuron = f"leaky integrator τ={node.tau:.4g}"
    elif isinstance(node, ir.Threshold):
        neuron = f"step θ={_num(node.threshold)}"
    elif isinstance(node, ir.Delay):
        neuron = f"delay {node.steps} step(s)"
    elif isinstance(node, ir.Readout):
        neuron = "membrane readout"
    elif isinstance(node, ir.Scale):
        neuron = f"×{_num(node.factor)}"
    return ", ".join(parts), neuron


def spiking_work(g: Graph) -> Workload | None:
    """The graph's workload (:mod:`~sjconvert.exec.workload`) if it spikes, else None."""
    if not any(node.spiking for _, node in g):
        return None
    return workload(with_shapes(g))


def spike_driven_by_t(w: Workload) -> dict[str, float]:
    """The share of operations that is spike-driven at each of :data:`FRACTION_STEPS`, in
    the dense limit (every spike-driven synapse at its full MACs)."""
    return {str(t): w.fraction(t) for t in FRACTION_STEPS}


def graph_rows(g: Graph) -> list[dict[str, Any]]:
    rows = []
    lam = g.meta.get("normalisation", {}).get("lambda", {})
    work = spiking_work(g)
    for name, node in g:
        params, neuron = describe(node)
        rows.append(
            {
                "node": name,
                "op": node.op,
                "inputs": list(g.edges[name]),
                "shape": list(g.shapes.get(name, ())),
                "parameters": params,
                "neuron": neuron,
                "lambda": lam.get(name),
                "work": "" if work is None else work.kinds.get(name, ""),
            }
        )
    return rows


def graph_table(g: Graph, title: str = "") -> Table:
    work = spiking_work(g)
    caption = None
    if work is not None:
        shares = ", ".join(f"T={t}: {100 * v:.1f} %" for t, v in spike_driven_by_t(work).items())
        caption = f"spike-driven share of operations (dense limit): {shares}"
    t = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for col in ("node", "op", "inputs", "shape", "parameters", "threshold / neuron", "λ", "work"):
        t.add_column(col, overflow="fold")
    for r in graph_rows(g):
        t.add_row(
            r["node"],
            r["op"],
            ", ".join(r["inputs"]),
            "×".join(map(str, r["shape"])),
            r["parameters"],
            r["neuron"],
            _lam_text(r["lambda"]),
            r["work"],
        )
    return t


def _lam_text(lam: float | list[float] | None) -> str:
    """λ for the table: one number, or the per-channel range."""
    if lam is None:
        return ""
    if isinstance(lam, list):
        return f"{min(lam):.3g}–{max(lam):.3g} ({len(lam)} ch)"
    return f"{lam:.4g}"


def results_table(res: Any, title: str = "") -> Table:
    """Accuracy per T beside the ANN's and, where the executor counts it, the cost per
    inference: spikes, synaptic operations and the energy estimate (:mod:`~sjconvert.exec.
    cost`)."""
    metric = "accuracy" if res.labelled else "agreement with ANN"
    cost = res.cost
    caption = f"simulated in {res.seconds:.2f} s"
    if cost is not None:
        caption = (
            f"ANN: {_si(cost.ann_macs)} MACs, {_joules(cost.ann_energy)} per inference; SNN: "
            f"{_si(cost.macs_static)} MACs in the first layer; energy at 0.9 pJ per "
            f"accumulate, 4.6 pJ per MAC; {caption}"
        )
    t = Table(
        title=f"{title}: {res.samples} samples, {metric}",
        title_justify="left",
        caption=caption,
        caption_justify="left",
        min_width=72,
    )
    columns = ["T", "SNN"] if res.ann is None else ["T", "SNN", "ANN", "SNN − ANN"]
    if cost is not None:
        columns += ["spikes", "SOPs", "energy", "vs ANN", "spike-driven"]
    for col in columns:  # no ANN columns for an SNN without a source ANN
        t.add_column(col, justify="right")
    for step, acc in res.snn.items():
        row = [str(step), f"{100 * acc:.2f} %"]
        if res.ann is not None:
            row += [f"{100 * res.ann:.2f} %", f"{100 * (acc - res.ann):+.2f}"]
        if cost is not None:
            e = cost.energy(step)
            ratio = e / cost.ann_energy if cost.ann_energy else float("nan")
            share = cost.spike_driven(step)
            row += [_si(cost.spikes[step]), _si(cost.synops[step]), _joules(e), f"{ratio:.2f}×"]
            row.append("" if share is None else f"{100 * share:.1f} %")
        t.add_row(*row)
    return t


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{100 * v:.2f} %"


def _lowest_layer(layers: dict[str, float]) -> str:
    if not layers:
        return "n/a"
    name = min(layers, key=layers.__getitem__)
    return f"{100 * layers[name]:.2f} % ({name})"


def parity_table(report: Any, title: str = "") -> Table:
    """One row per backend and T: agreement with its reference, accuracy, run time — or
    why it did not run (``sjconvert parity``, and ``to-onnx`` / ``to-lynxi --verify``)."""
    ann = "" if report.ann_accuracy is None else f"; ANN accuracy {_pct(report.ann_accuracy)}"
    verdict = "PASSED" if report.passed else f"FAILED ({len(report.failures)})"
    checked = report.requirements or report.failures
    t = Table(
        title=f"{title}: {report.samples} samples{ann}",
        title_justify="left",
        caption=f"requirements {report.requirements or 'none'}: {verdict}" if checked else None,
        caption_justify="left",
    )
    for col in ("backend", "T", "status", "spikes", "lowest layer", "predictions", "accuracy"):
        t.add_column(col, justify="left" if col in ("backend", "status") else "right")
    t.add_column("max rate err", justify="right")
    t.add_column("run s", justify="right")
    t.add_column("against / reason", overflow="fold")
    for r in report.rows:
        a = r.agreement
        if a is None:
            reason = r.reason if len(r.reason) <= 160 else r.reason[:157] + "…"
            t.add_row(r.backend, str(r.steps), r.status, *[""] * 6, reason)
            continue
        err = "n/a" if a.max_rate_error is None else f"{a.max_rate_error:.3g}"
        t.add_row(
            r.backend,
            str(r.steps),
            r.status,
            _pct(a.spike_count_agreement),
            _lowest_layer(a.layers),
            _pct(a.prediction_agreement),
            _pct(a.accuracy),
            err,
            f"{r.seconds:.2f}",
            r.against + (f"; {r.reason}" if r.reason else ""),
        )
    return t


def _si(v: float) -> str:
    """A count with an SI prefix: 1234567 → 1.23M."""
    for factor, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= factor:
            return f"{v / factor:.3g}{unit}"
    return f"{v:.3g}"


def _joules(v: float) -> str:
    for factor, unit in ((1e-3, "mJ"), (1e-6, "µJ"), (1e-9, "nJ")):
        if abs(v) >= factor:
            return f"{v / factor:.3g} {unit}"
    return f"{v * 1e12:.3g} pJ"
