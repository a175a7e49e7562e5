"""Import an ANN from an ONNX file as an IR graph, with ``onnx`` alone.

``onnx`` reads and checks the file; each node goes through its builder in
:data:`.onnx_ops.OP_BUILDERS` (:mod:`.onnx_ops`, :mod:`.onnx_layers`), which emits the same
IR nodes capture emits for the torch layer. Constants — initializers, ``Constant`` nodes and
the shape arithmetic exporters emit for a dynamic batch — are evaluated with NumPy; a Pad of
zeros folds into the convolution or average pool reading it. Every node that cannot be
imported is reported at once, and the imported graph must reproduce ONNX Runtime's output
on a random input (when ONNX Runtime is installed).
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..errors import CaptureError, InputError, UnsupportedOpError
from ..exec.reference import Simulator
from ..exec.shapes import node_shape
from ..ir import nodes as ir
from ..ir.graph import Graph
from . import onnx_layers  # noqa: F401  (registers the layer builders)
from .builders import Unsupported
from .onnx_ops import OP_BUILDERS
from .refusals import NO_MAPPING, Problem, report
from .validate_onnx import read_onnx

if TYPE_CHECKING:
    import onnx

PACKAGES = ("onnx",)
CHECK_BATCH = 2
CHECK_ELEMENTS = 1 << 26  # the largest input the ONNX Runtime check feeds


def _ir_name(value: str) -> str:
    return re.sub(r"[^0-9A-Za-z_]+", "_", value).strip("_") or "v"


class Importer:
    """The IR under construction; the per-node view (``attrs``, ``const``, ``tensor``,
    ``emit``...) that builders use is set by :meth:`visit` for one node at a time."""

    def __init__(self, model: onnx.ModelProto) -> None:
        from onnx import numpy_helper

        g = model.graph
        self.consts: dict[str, np.ndarray] = {
            t.name: numpy_helper.to_array(t) for t in g.initializer
        }
        self.values: dict[str, str] = {}  # ONNX value -> IR node name
        self.pads: dict[str, tuple[str, list[int]]] = {}  # zero Pads waiting for their reader
        self.nodes: dict[str, ir.Node] = {}
        self.edges: dict[str, tuple[str, ...]] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.source: dict[str, str] = {}
        self.uses: dict[str, int] = {}
        for n in g.node:
            for i in n.input:
                self.uses[i] = self.uses.get(i, 0) + 1
        for o in g.output:
            self.uses[o.name] = self.uses.get(o.name, 0) + 1
        self.node: Any = None
        self.attrs: dict[str, Any] = {}
        self.n_inputs = 0

    # -- the view of one node, for builders ----------------------------------------------
    def _in(self, i: int) -> str:
        return self.node.input[i]

    def is_const(self, i: int) -> bool:
        return self._in(i) in self.consts

    def const(self, i: int) -> np.ndarray:
        if not self.is_const(i):
            raise Unsupported(f"input {i} ('{self._in(i)}') must be a constant")
        return self.consts[self._in(i)]

    def tensor(self, i: int) -> tuple[str, tuple[int, ...]]:
        name = self._in(i)
        if name in self.pads:
            raise Unsupported("reads a Pad that folds into no convolution or average pool")
        if name not in self.values:
            raise Unsupported(f"input {i} ('{name}') is not a tensor the IR computes")
        return self.values[name], self.shapes[self.values[name]]

    def producer(self, i: int) -> tuple[str, ir.Node] | None:
        name = self._in(i)
        ir_name = self.values.get(name)
        if ir_name is None or self.uses.get(name, 0) != 1 or ir_name not in self.nodes:
            return None
        return ir_name, self.nodes[ir_name]

    def emit(self, node: ir.Node, ins: tuple[str, ...], out: int = 0) -> str:
        name = _ir_name(self.node.output[out])
        while name in self.nodes:
            name += "_"
        try:
            shape = node_shape(node, [self.shapes[i] for i in ins])
        except ValueError as exc:
            raise Unsupported(str(exc)) from None
        self.nodes[name], self.edges[name], self.shapes[name] = node, ins, shape
        self.source[name] = self.node.name or self.node.op_type
        self.values[self.node.output[out]] = name
        return name

    def replace(self, name: str, node: ir.Node) -> None:
        ins = self.edges[name]
        self.nodes[name], self.shapes[name] = node, node_shape(node, [self.shapes[i] for i in ins])

    def alias(self, value: str, out: int = 0) -> None:
        self.values[self.node.output[out]] = value

    def set_const(self, value: np.ndarray, out: int = 0) -> None:
        self.consts[self.node.output[out]] = value

    def pad_of(self, i: int) -> tuple[str, list[int]] | None:
        return self.pads.get(self._in(i))

    def set_pad(self, src: str, pads: list[int]) -> None:
        self.pads[self.node.output[0]] = (src, pads)

    # -- driving ---------------------------------------------------------------------------
    def visit(self, node: Any) -> None:
        from onnx import helper

        self.node, self.n_inputs = node, len(node.input)
        self.attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        self.attrs.update(__op=node.op_type, __outputs=len(node.output))
        OP_BUILDERS[node.op_type](self)


def _inputs(model: onnx.ModelProto, path: Path) -> list[tuple[str, tuple[int, ...]]]:
    inits = {t.name for t in model.graph.initializer}
    found = []
    for v in model.graph.input:
        if v.name in inits:
            continue
        dims = v.type.tensor_type.shape.dim
        shape = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in dims[1:])
        if not dims or min(shape, default=-1) < 1:
            raise InputError(
                f"{path}: input '{v.name}' needs fixed sizes after the batch axis, has "
                f"{[d.dim_param or d.dim_value for d in dims]}"
            )
        found.append((v.name, shape))
    return found


def import_graph(model: onnx.ModelProto, path: Path) -> Graph:
    """The IR of ``model``; every node that cannot be imported is reported at once."""
    imp = Importer(model)
    for name, shape in _inputs(model, path):
        node = _ir_name(name)
        imp.nodes[node], imp.edges[node], imp.shapes[node] = ir.Input(shape), (), shape
        imp.values[name] = node
    problems = [
        Problem(n.op_type, NO_MAPPING, n.name or n.output[0])
        for n in model.graph.node
        if n.op_type not in OP_BUILDERS or n.domain not in ("", "ai.onnx")
    ]
    if problems:
        raise UnsupportedOpError(report(str(path), problems))
    for n in model.graph.node:
        if not set(n.input) - {""} <= set(imp.values) | set(imp.consts) | set(imp.pads):
            continue  # reads the output of a node already refused
        try:
            imp.visit(n)
        except (Unsupported, ValueError) as exc:
            problems.append(Problem(n.op_type, str(exc), n.name or n.output[0]))
    outputs = [o.name for o in model.graph.output]
    problems += [
        Problem("output", "not computed by the IR", o)
        for o in outputs
        if o not in imp.values and not problems
    ]
    if problems:
        raise UnsupportedOpError(report(str(path), problems))
    meta = {"source": imp.source, "lead_axes": 1}
    return Graph(imp.nodes, imp.edges, tuple(imp.values[o] for o in outputs), imp.shapes, meta)


def _check_runtime(graph: Graph, model: onnx.ModelProto, path: Path) -> None:
    """The imported graph must reproduce ONNX Runtime on a random input."""
    if importlib.util.find_spec("onnxruntime") is None:
        return
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    feeds = {}
    for v in model.graph.input:
        if v.name in {t.name for t in model.graph.initializer}:
            continue
        dims = v.type.tensor_type.shape.dim
        n = dims[0].dim_value if dims[0].HasField("dim_value") else CHECK_BATCH
        size = n * int(np.prod(graph.shapes[_ir_name(v.name)]))
        if size > CHECK_ELEMENTS:
            raise InputError(
                f"{path}: input '{v.name}' has a fixed batch of {n}, too large to check the "
                "import against ONNX Runtime; export with a dynamic batch axis"
            )
        feeds[v.name] = rng.uniform(0, 1, (n, *graph.shapes[_ir_name(v.name)])).astype(np.float32)
    want = _run_ort(ort, model, feeds, path)
    got = Simulator(graph).rate(*(torch.from_numpy(x) for x in feeds.values()))
    for name, w in zip(graph.outputs, want, strict=True):
        err = float(np.max(np.abs(got[name].numpy() - w))) if w.size else 0.0
        if err > 1e-4 * max(1.0, float(np.max(np.abs(w)))):
            raise CaptureError(
                f"{path}: imported graph differs from ONNX Runtime at '{name}' (max error "
                f"{err:.3g})"
            )


def _run_ort(ort: Any, model: onnx.ModelProto, feeds: dict[str, Any], path: Path) -> Any:
    """ONNX Runtime's outputs for ``feeds``; its failure on the user's model is bad input
    (one line, its own log silenced)."""
    ort.set_default_logger_severity(4)  # its error log line would repeat ours
    options = ort.SessionOptions()
    options.log_severity_level = 4
    run = ort.RunOptions()
    run.log_severity_level = 4
    try:
        sess = ort.InferenceSession(model.SerializeToString(), options, ["CPUExecutionProvider"])
        return sess.run(None, feeds, run)
    except Exception as exc:  # onnxruntime raises its own Fail, InvalidArgument, ... types
        text = " ".join(str(exc).split())
        raise InputError(f"{path}: ONNX Runtime cannot run the model ({text[:300]})") from None


def load_onnx(path: str | os.PathLike[str], check: bool = True) -> Graph:
    """The ONNX model at ``path`` as an IR graph (checked against ONNX Runtime)."""
    missing = [m for m in PACKAGES if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError(
            f"reading {path} needs {', '.join(missing)}, not installed: "
            "pip install 'sjconvert[onnx]'"
        )
    p = Path(path)
    model = read_onnx(p)  # the validation step: nothing unchecked reaches the importer
    graph = import_graph(model, p)
    if check:
        _check_runtime(graph, model, p)
    return graph
