"""Map a traced, shape-propagated fx graph to the IR, node by node.

Module calls go through :func:`.builders.module_builder`, function and method calls through
:func:`.functions.function_builder`. Besides one IR node per call (or a :class:`Chain`):

* calls that pass a tensor through (``contiguous``) and full-size parts become aliases;
* ``chunk`` / ``split`` keep their parts as bounds on the input, and each ``getitem`` of
  the tuple becomes a :class:`ir.Slice`;
* size arithmetic (``x.size(1) // g``) is skipped: reshapes read the traced shapes;
* an in-place call (``relu_``, ``x += y``, ``inplace=True``) rebinds its first argument, so
  later reads of that tensor see the result;
* every call without a mapping is collected and reported at once (:mod:`.refusals`).
"""

from __future__ import annotations

import dataclasses
import operator
from typing import Any

import numpy as np
from torch import fx

from ..errors import CaptureError, UnsupportedOpError
from ..ir import nodes as ir
from ..ir.graph import Graph
from .blocks import INPUT, Block
from .builders import Chain, Ctx, Unsupported, module_builder
from .constants import constant_nodes
from .functions import (
    PASSTHROUGH,
    SIZE_HELPERS,
    SPLITS,
    call_name,
    function_builder,
    is_inplace,
)
from .refusals import NO_MAPPING, Problem, report


def shape_of(n: Any, lead: int) -> tuple[int, ...] | None:
    """Per-sample traced shape of fx node ``n`` (None for a non-tensor value)."""
    meta = n.meta.get("tensor_meta") if isinstance(n, fx.Node) else None
    if meta is None or not hasattr(meta, "shape"):
        return None
    return tuple(int(s) for s in meta.shape[lead:])


def _where(n: fx.Node, gm: fx.GraphModule) -> str:
    """The module path of a module call, or of the module whose forward makes the call."""
    if n.op == "call_module":
        return str(n.target)
    return gm.meta.get("scope", {}).get(n.name) or n.name


def _kind(n: fx.Node, gm: fx.GraphModule) -> str:
    if n.op == "call_module":
        return type(gm.get_submodule(n.target)).__name__
    return call_name(n.target)


def _build(
    n: fx.Node,
    gm: fx.GraphModule,
    lead: int,
    ins: list[fx.Node],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> ir.Node | Chain | Block:
    """The IR node(s) for one fx call node (raises Unsupported); ``args`` and ``kwargs``
    are its arguments with the values of constants in place of their nodes."""
    if n.op == "call_module":
        mod = gm.get_submodule(n.target)
        builder = module_builder(mod)
        if builder is None:
            raise Unsupported(NO_MAPPING)
        # SpikingJelly's step-aware layers count dims per step, plain torch ones don't
        lead = 1 if hasattr(mod, "step_mode") or n.target in gm.meta["per_step"] else lead
        shape = shape_of(ins[0], lead) if ins else ()
        out = shape_of(n, lead) or _first_shape(n, lead)
        shapes = tuple(shape_of(a, lead) or () for a in ins)
        ctx = Ctx(shape or (), out, lead, args, kwargs, shapes=shapes)
        return builder(mod, ctx)
    builder = function_builder(n.target)
    if builder is None:
        raise Unsupported(NO_MAPPING)
    shapes = tuple(shape_of(a, lead) or () for a in ins if a.op != "get_attr")
    in_full = tuple(ins[0].meta["tensor_meta"].shape) if ins else ()
    keeps = in_full[:lead] == tuple(n.meta["tensor_meta"].shape[:lead])
    ctx = Ctx(shapes[0] if shapes else (), shape_of(n, lead) or (), lead, args)
    return builder(dataclasses.replace(ctx, kwargs=kwargs, keeps_lead=keeps, shapes=shapes))


def _first_shape(n: fx.Node, lead: int) -> tuple[int, ...]:
    """The per-sample shape of the first tensor of a call returning a tuple
    (``MultiheadAttention`` returns the output and None)."""
    meta = n.meta.get("tensor_meta")
    first = meta[0] if isinstance(meta, (tuple, list)) and meta else None
    return tuple(int(s) for s in first.shape[lead:]) if hasattr(first, "shape") else ()


def _writes_first_arg(n: fx.Node, gm: fx.GraphModule) -> bool:
    if n.op == "call_module":
        return bool(getattr(gm.get_submodule(n.target), "inplace", False))
    return is_inplace(n.target, tuple(n.args), dict(n.kwargs))


class _Mapper:
    """The IR under construction: nodes, edges, shapes and what fx names resolve to."""

    def __init__(self, gm: fx.GraphModule, lead: int) -> None:
        self.gm, self.lead = gm, lead
        self.consts: dict[str, Any] = gm.meta.get("constants", {})
        self.tuples: set[str] = set()  # calls returning (tensor, None): getitem 0 aliases
        self.nodes: dict[str, ir.Node] = {}
        self.edges: dict[str, tuple[str, ...]] = {}
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.source: dict[str, str] = {}
        self.alias: dict[str, str] = {}  # fx node -> IR value it passes through
        self.parts: dict[str, tuple[str, int, list[tuple[int, int]]]] = {}  # chunk / split
        self.problems: list[Problem] = []
        self.outputs: tuple[str, ...] = ()

    def ref(self, a: fx.Node) -> str:
        return self.alias.get(a.name, a.name)

    def add(self, name: str, node: ir.Node, ins: tuple[str, ...], shape: tuple[int, ...]) -> None:
        self.nodes[name], self.edges[name], self.shapes[name] = node, ins, shape

    def refuse(self, n: fx.Node, reason: str) -> None:
        self.problems.append(Problem(_kind(n, self.gm), reason, _where(n, self.gm)))

    def visit(self, n: fx.Node) -> None:
        flat = [b for a in n.args for b in (a if isinstance(a, (tuple, list)) else (a,))]
        ins = [a for a in flat if shape_of(a, self.lead) is not None and a.name not in self.consts]
        out_shape = shape_of(n, self.lead)
        if n.name in self.consts:
            return  # evaluated at capture; the calls reading it receive its value
        if n.op == "call_module" and out_shape is None and _first_shape(n, self.lead):
            self.tuples.add(n.name)
            out_shape = _first_shape(n, self.lead)
        if n.op == "placeholder":
            if out_shape is None:
                raise CaptureError(f"input '{n.name}' is not a tensor")
            self.add(n.name, ir.Input(out_shape, sequence=self.lead == 2), (), out_shape)
        elif n.op == "output":
            self.output(n)
        elif n.target is operator.getitem and getattr(n.args[0], "name", "") in self.tuples:
            if n.args[1] == 0:
                self.alias[n.name] = self.ref(n.args[0])
        elif n.target in SPLITS and ins:
            self.split(n)
        elif n.target is operator.getitem and getattr(n.args[0], "name", "") in self.parts:
            self.part(n, out_shape or ())
        elif out_shape is None:
            if n.target not in SIZE_HELPERS and ins:  # else: size arithmetic
                self.refuse(n, "non-tensor result")
        elif n.target in PASSTHROUGH:
            self.alias[n.name] = self.ref(n.args[0])
        else:
            self.call(n, ins, out_shape)

    def output(self, n: fx.Node) -> None:
        outs = n.args[0] if isinstance(n.args[0], (tuple, list)) else (n.args[0],)
        if all(isinstance(o, fx.Node) for o in outs):
            self.outputs = tuple(self.ref(o) for o in outs)
        else:
            self.problems.append(Problem("output", "returns a non-tensor value", "output"))

    def split(self, n: fx.Node) -> None:
        """Record the axis and ``[start, stop)`` bounds of the parts of a chunk / split."""
        src = n.args[0]
        ctx = Ctx(shape_of(src, self.lead) or (), (), self.lead, tuple(n.args), dict(n.kwargs))
        try:
            axis = ctx.dim(ctx.arg(2, "dim", 0))
        except Unsupported as exc:
            self.refuse(n, str(exc))
            return
        sizes = [int(m.shape[axis - 1 + self.lead]) for m in n.meta["tensor_meta"]]
        ends = np.cumsum(sizes).tolist()
        bounds = [(e - s, e) for s, e in zip(sizes, ends, strict=True)]
        self.parts[n.name] = (self.ref(src), axis, bounds)

    def part(self, n: fx.Node, shape: tuple[int, ...]) -> None:
        src, axis, bounds = self.parts[n.args[0].name]
        start, stop = bounds[n.args[1]]
        if (start, stop) == (0, self.shapes[src][axis - 1]):
            self.alias[n.name] = src
        else:
            self.add(n.name, ir.Slice(axis, start, stop), (src,), shape)

    def call(self, n: fx.Node, ins: list[fx.Node], out_shape: tuple[int, ...]) -> None:
        if any(isinstance(a, fx.Node) and a.target in SPLITS for a in n.args[:1]):
            return  # a part of a split already refused
        try:
            args, kwargs = self._values(n.args), self._values(dict(n.kwargs))
            node = _build(n, self.gm, self.lead, ins, args, kwargs)
        except (Unsupported, ValueError) as exc:
            self.refuse(n, str(exc))
            return
        if n.op == "call_module":
            self.source[n.name] = str(n.target)
        names = tuple(self.ref(a) for a in ins)
        if isinstance(node, Block):
            self.block(n, node, names)
            return
        if isinstance(node, Chain):  # one call → several IR nodes; the last keeps the name
            for k, (piece, shape) in enumerate(node.parts[:-1]):
                name = f"{n.name}_{k}_{piece.op.lower()}"
                self.add(name, piece, names, shape)
                names = (name,)
            node = node.parts[-1][0]
        self.add(n.name, node, names, out_shape)
        if ins and _writes_first_arg(n, self.gm):
            self.alias[ins[0].name] = n.name  # later reads of the argument see the result

    def _values(self, args: Any) -> Any:
        """``args`` with each constant node replaced by its value."""
        if isinstance(args, dict):
            return {k: self._values(v) for k, v in args.items()}
        if isinstance(args, (tuple, list)):
            return type(args)(self._values(a) for a in args)
        if isinstance(args, fx.Node) and args.name in self.consts:
            return self.consts[args.name]
        return args

    def block(self, n: fx.Node, block: Block, names: tuple[str, ...]) -> None:
        """Add a block's parts: local names become ``<call>_<local>``, the last is the call."""
        local: dict[str, str] = {}
        first_input = next(k for k, v in self.nodes.items() if isinstance(v, ir.Input))
        for i, (part, node, refs, shape) in enumerate(block.parts):
            name = n.name if i == len(block.parts) - 1 else f"{n.name}_{part}"
            ins = tuple(
                names[r] if isinstance(r, int) else first_input if r == INPUT else local[r]
                for r in refs
            )
            self.add(name, node, ins, shape)
            local[part] = name


def unmapped(gm: fx.GraphModule) -> list[Problem]:
    """Calls on tensors that have no builder at all, found from the traced graph alone,
    before the model runs. Which values are tensors is followed symbolically: size queries
    and the arithmetic on their results are not; constants (parameters and what is computed
    from them alone, :mod:`.constants`) are evaluated at capture and need no builder."""
    tensors: set[str] = set()
    consts = constant_nodes(gm)
    problems: list[Problem] = []
    for n in gm.graph.nodes:
        args = [b for a in n.args for b in (a if isinstance(a, (tuple, list)) else (a,))]
        takes = any(isinstance(a, fx.Node) and a.name in tensors for a in args)
        if n.op in ("placeholder", "get_attr", "call_module") or takes:
            tensors.add(n.name)
        if n.name in consts or n.op == "get_attr":
            continue
        if n.op == "call_module" and module_builder(gm.get_submodule(n.target)) is None:
            problems.append(Problem(_kind(n, gm), NO_MAPPING, _where(n, gm)))
        elif n.op in ("call_function", "call_method") and takes:
            if n.target in SIZE_HELPERS and n.target is not operator.getitem:
                tensors.discard(n.name)
            elif n.target not in PASSTHROUGH | SPLITS and function_builder(n.target) is None:
                problems.append(Problem(_kind(n, gm), NO_MAPPING, _where(n, gm)))
    return problems


def to_ir(gm: fx.GraphModule, lead: int, model_name: str) -> Graph:
    """The IR of ``gm`` (shapes propagated); every unsupported call is reported at once."""
    m = _Mapper(gm, lead)
    for n in gm.graph.nodes:
        m.visit(n)
    if m.problems:
        raise UnsupportedOpError(report(model_name, m.problems))
    return Graph(m.nodes, m.edges, m.outputs, m.shapes, {"source": m.source, "lead_axes": lead})
