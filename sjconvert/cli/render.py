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
    if isinstance(node, ir.Input) and node.sequence:
        parts.append("sequence (one value per step)")
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
    metric = "accuracy" if res.labelled else "agreement with ANN"
    t = Table(
        title=f"{title}: {res.samples} samples, {metric}",
        title_justify="left",
        caption=f"{res.spikes_per_sample:.0f} spikes per sample at T={max(res.snn)}; "
        f"simulated in {res.seconds:.2f} s",
        caption_justify="left",
        min_width=72,
    )
    columns = ("T", "SNN") if res.ann is None else ("T", "SNN", "ANN", "SNN − ANN")
    for col in columns:  # no ANN columns for an SNN without a source ANN
        t.add_column(col, justify="right")
    for step, acc in res.snn.items():
        row = [str(step), f"{100 * acc:.2f} %"]
        if res.ann is not None:
            row += [f"{100 * res.ann:.2f} %", f"{100 * (acc - res.ann):+.2f}"]
        t.add_row(*row)
    return t
