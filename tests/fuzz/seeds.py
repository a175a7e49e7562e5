"""Valid seed files for every reader, written by sjconvert's own writers (or, for ONNX, by
``onnx.helper``): the fuzz suite mutates these."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from sjconvert.api import PLAIN, ann2snn
from sjconvert.exec.shapes import with_shapes
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph
from sjconvert.ir.io import save
from sjconvert.targets.lava.build import to_loihi
from sjconvert.targets.lava.formats.netx_writer import write_netx
from sjconvert.targets.nir import save as save_nir
from sjconvert.targets.nir import to_nir
from tests.fuzz.models import Tiny

ARCH = "tests.fuzz.models:Tiny"
SHAPE = (1, 6, 6)


def _data(r: np.random.Generator, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    return r.uniform(0, 1, (n, *SHAPE)).astype(np.float32), np.arange(n) % 3


def _zoo() -> Graph:
    """One graph holding most node kinds (for ``inspect``): every field type is mutated."""
    r = np.random.default_rng(1)
    w = r.normal(size=(4, 2, 3, 3)).astype(np.float32)
    parts: list[tuple[str, ir.Node, tuple[str, ...]]] = [
        ("x", ir.Input((2, 6, 6)), ()),
        ("conv", ir.Conv2d(w, r.normal(size=4), 1, 1), ("x",)),
        ("bn", ir.BatchNorm(np.zeros(4), np.ones(4), np.ones(4), np.zeros(4)), ("conv",)),
        ("lif", ir.LIF(2.0, np.array([1.0, 0.5, 2.0, 1.0]), 0.0, True), ("bn",)),
        ("pool", ir.MaxPool2d(2, 2, 0), ("lif",)),
        ("scale", ir.Scale(r.uniform(0.5, 2, 4)), ("pool",)),
        ("lo", ir.Slice(1, 0, 2), ("scale",)),
        ("hi", ir.Slice(1, 2, 4), ("scale",)),
        ("cat", ir.Concat(1), ("lo", "hi")),
        ("add", ir.Add(), ("cat", "scale")),
        ("swap", ir.Transpose((1, 3, 2)), ("add",)),
        ("flat", ir.Flatten(1, -1), ("swap",)),
        ("fc1", ir.Linear(r.normal(size=(8, 36)), r.normal(size=8)), ("flat",)),
        ("cuba", ir.CubaLIF(0.5, 0.25, 1.0, None, 0.1), ("fc1",)),
        ("delay", ir.Delay(1), ("cuba",)),
        ("step", ir.Threshold(0.5), ("delay",)),
        ("grid", ir.Reshape((2, 4)), ("step",)),
        ("flat2", ir.Flatten(), ("grid",)),
        ("fc2", ir.Linear(r.normal(size=(3, 8)), None), ("flat2",)),
        ("out", ir.Readout(), ("fc2",)),
    ]
    g = Graph({n: node for n, node, _ in parts}, {n: i for n, _, i in parts}, ("out",))
    return with_shapes(g)


def _nir_snn() -> Graph:
    """A hard-reset SNN that NIR holds exactly (IF, LIF, CubaLIF, pooling, readout)."""
    r = np.random.default_rng(2)
    parts: list[tuple[str, ir.Node]] = [
        ("x", ir.Input(SHAPE)),
        ("conv", ir.Conv2d(r.normal(size=(4, 1, 3, 3)), r.normal(size=4), 1, 1)),
        ("if1", ir.IF(1.0, 0.0)),
        ("pool", ir.AvgPool2d(2, 2, 0)),
        ("flat", ir.Flatten()),
        ("fc1", ir.Linear(r.normal(size=(8, 36)), r.normal(size=8))),
        ("lif", ir.LIF(4.0, 0.8, 0.0, True)),
        ("fc2", ir.Linear(r.normal(size=(6, 8)), None)),
        ("cuba", ir.CubaLIF(0.5, 0.75, 1.0, 0.0)),
        ("fc3", ir.Linear(r.normal(size=(3, 6)), r.normal(size=3))),
        ("out", ir.Readout()),
    ]
    names = [n for n, _ in parts]
    edges = {n: (names[i - 1],) if i else () for i, n in enumerate(names)}
    return with_shapes(Graph(dict(parts), edges, ("out",)))


def _onnx(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    r = np.random.default_rng(3)
    inits = [
        numpy_helper.from_array(r.normal(size=(4, 1, 3, 3)).astype(np.float32), "w1"),
        numpy_helper.from_array(r.normal(size=4).astype(np.float32), "b1"),
        numpy_helper.from_array(r.normal(size=(3, 36)).astype(np.float32), "w2"),
        numpy_helper.from_array(r.normal(size=3).astype(np.float32), "b2"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node(
            "AveragePool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]
        ),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten", axis=1),
        helper.make_node("Gemm", ["f", "w2", "b2"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *SHAPE])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def build(folder: Path) -> dict[str, Path]:
    """Write every seed into ``folder``; returns ``{kind: path}``."""
    r = np.random.default_rng(0)
    torch.manual_seed(0)
    x, y = _data(r)
    seeds = {"npz": folder / "data.npz", "pt": folder / "data.pt", "state": folder / "tiny.pt"}
    np.savez(seeds["npz"], x=x, y=y)
    torch.save({"x": torch.from_numpy(x), "y": torch.from_numpy(y)}, seeds["pt"])
    model = Tiny().eval()
    torch.save(model.state_dict(), seeds["state"])
    conv = ann2snn(model, [torch.from_numpy(x)], T=None)
    seeds["ir"] = save(folder / "tiny.sjir", conv.snn, source=conv.ann)
    seeds["ir_zoo"] = save(folder / "zoo.sjir", _zoo())
    plain = ann2snn(model, [torch.from_numpy(x)], **PLAIN).snn  # as to-lava
    for neuron in ("cuba", "sdnn"):
        net = to_loihi(plain, 8, model=neuron, fmt="netx").net
        seeds[f"netx_{neuron}"] = write_netx(net, folder / f"tiny_{neuron}.net")
    graph = to_loihi(plain, 8, model="cuba", fmt="procgraph")
    seeds["procgraph"] = graph.write(folder / "tiny.lpg.npz")[0]
    seeds["nir"] = save_nir(folder / "tiny.nir", to_nir(_nir_snn()))
    if importlib.util.find_spec("onnx") is not None:
        seeds["onnx"] = folder / "tiny.onnx"
        _onnx(seeds["onnx"])
    return seeds
