"""Rich tables for the CLI (graphs and simulation results)."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.table import Table

from ..ir import nodes as ir
from ..ir.graph import Graph

DEFAULTS = {"stride": 1, "padding": 0, "dilation": 1}


def _num(v: Any) -> str:
    arr = np.asarray(v)
    if arr.ndim == 0:
        return f"{float(arr):.4g}"
    return f"[{arr.min():.3g}…{arr.max():.3g}]×{arr.size}"


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
    neuron = ""
    if isinstance(node, (ir.IF, ir.LIF, ir.CubaLIF)):
        reset = "soft" if node.v_reset is None else f"hard→{node.v_reset:g}"
        tau = f" τ={node.tau:.4g}" if isinstance(node, ir.LIF) else ""
        if isinstance(node, ir.CubaLIF):
            tau = f" α={node.c_decay:.4g} β={node.v_decay:.4g}"
        neuron = f"θ={_num(node.v_threshold)} {reset}{tau}"
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


def graph_rows(g: Graph) -> list[dict[str, Any]]:
    rows = []
    lam = g.meta.get("normalisation", {}).get("lambda", {})
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
            }
        )
    return rows


def graph_table(g: Graph, title: str = "") -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("node", "op", "inputs", "shape", "parameters", "threshold / neuron", "λ"):
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
    columns = ["T", "SNN", "ANN", "SNN − ANN"]
    if cost is not None:
        columns += ["spikes", "SOPs", "energy", "vs ANN"]
    for col in columns:
        t.add_column(col, justify="right")
    for step, acc in res.snn.items():
        ann = "" if res.ann is None else f"{100 * res.ann:.2f} %"
        gap = "" if res.ann is None else f"{100 * (acc - res.ann):+.2f}"
        row = [str(step), f"{100 * acc:.2f} %", ann, gap]
        if cost is not None:
            e = cost.energy(step)
            ratio = e / cost.ann_energy if cost.ann_energy else float("nan")
            row += [_si(cost.spikes[step]), _si(cost.synops[step]), _joules(e), f"{ratio:.2f}×"]
        t.add_row(*row)
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
