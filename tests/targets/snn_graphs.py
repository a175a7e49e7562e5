"""Small SNN graphs and converted samples shared by the Lynxi and ONNX target tests."""

from __future__ import annotations

import dataclasses

import numpy as np

from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph


def converted(name: str) -> tuple[Graph, dict[str, np.ndarray]]:
    """The bundled sample converted with default settings (128 calibration samples), and
    its test arrays."""
    from sjconvert import ann2snn
    from tests.conftest import load_sample

    model, test, calib = load_sample(name)
    return ann2snn(model, [calib["x"][:128]]).snn, test


def dyadic(graph: Graph, bits: int = 6) -> Graph:
    """``graph`` with every array rounded to a multiple of 2^-bits. With dyadic inputs every
    synaptic sum is then exact in float32 whatever the summation order, so two executors
    must agree bit for bit: what remains to differ is the neuron arithmetic."""
    q = float(2**bits)
    nodes = {}
    for name, node in graph:
        arrays = {
            f.name: np.round(np.asarray(getattr(node, f.name)) * q) / q
            for f in dataclasses.fields(node)
            if f.metadata.get("array") and getattr(node, f.name) is not None
        }
        nodes[name] = node.evolve(**arrays) if arrays else node
    return Graph(nodes, graph.edges, graph.outputs, graph.shapes, graph.meta)


def neuron_zoo(neuron: ir.Node, rng: np.random.Generator) -> Graph:
    """x [2, 6, 6] → conv → neuron → conv (+ a conv of the static input, scaled) → add →
    IF (per-channel threshold, v_init) → avgpool → flatten → linear → readout.

    Covers static and temporal inputs meeting at an Add, a folded scalar Scale, per-channel
    parameters and the given neuron (IF/LIF, any reset)."""

    def w(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.6, size=shape).astype(np.float32)

    nodes = {
        "x": ir.Input((2, 6, 6)),
        "c1": ir.Conv2d(w(3, 2, 3, 3), w(3), 1, 1),
        "n1": neuron,
        "c2": ir.Conv2d(w(3, 3, 3, 3), w(3), 1, 1),
        "skip": ir.Conv2d(w(3, 2, 1, 1), None),
        "skip_scale": ir.Scale(np.float32(0.5)),
        "add": ir.Add(),
        "n2": ir.IF(np.array([0.8, 1.0, 1.3], np.float32), None, np.array([0.5, 0, 0.25])),
        "pool": ir.AvgPool2d(2, 2),
        "flat": ir.Flatten(),
        "fc": ir.Linear(w(4, 27), w(4)),
        "out": ir.Readout(),
    }
    edges = {
        "x": (),
        "c1": ("x",),
        "n1": ("c1",),
        "c2": ("n1",),
        "skip": ("x",),
        "skip_scale": ("skip",),
        "add": ("c2", "skip_scale"),
        "n2": ("add",),
        "pool": ("n2",),
        "flat": ("pool",),
        "fc": ("flat",),
        "out": ("fc",),
    }
    shapes = {
        "x": (2, 6, 6),
        **dict.fromkeys(["c1", "n1", "c2", "skip", "skip_scale", "add", "n2"], (3, 6, 6)),
        "pool": (3, 3, 3),
        "flat": (27,),
        "fc": (4,),
        "out": (4,),
    }
    return Graph(nodes, edges, ("out",), shapes)


NEURONS = {
    "if_soft": ir.IF(1.0, None, 0.0),
    "if_hard_vinit": ir.IF(np.array([0.7, 1.0, 1.5], np.float32), 0.0, 0.3),
    "lif_decay_input_hard": ir.LIF(2.0, 1.0, 0.0, True, 0.0),
    "lif_no_decay_input_soft": ir.LIF(
        3.0, np.array([1.0, 0.6, 0.9], np.float32), None, False, np.array([0.1, 0.0, -0.2])
    ),
    "lif_reset_minus": ir.LIF(1.5, 0.9, -0.3, True, -0.3),
    "plif_decay": ir.LIF(4.0, 1.0, 0.0, True, 0.0, 0.25),
}
