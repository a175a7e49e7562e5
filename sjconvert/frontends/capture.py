"""Capture a torch model into the IR with torch.fx.

``capture(model, example)`` traces with :class:`LeafTracer` (known layers and neuron modules
stay leaves), propagates shapes with the example input, maps every fx node through
:mod:`sjconvert.frontends.builders`, reports all unsupported nodes at once, and checks that the IR
reproduces the model's output on the example (for models without neurons).

Neuron modules are read, never run: shape propagation passes their input shape through, so
a neuron whose forward needs a device (SpikingJelly's ``backend='cupy'`` kernels) captures
on any machine. A model with a module in multi-step mode (``step_mode='m'``, e.g. after
``functional.set_step_mode(net, 'm')``) takes ``[T, N, ...]`` sequences: its IR input
records ``sequence``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import itertools
from typing import Any

import numpy as np
import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from ..errors import CaptureError, InputError, UnsupportedOpError
from ..exec.reference import Simulator
from ..ir import nodes as ir
from ..ir.graph import Graph
from .builders import (
    FUNCTION_BUILDERS,
    MODULE_BUILDERS,
    PASSTHROUGH,
    SIZE_HELPERS,
    Chain,
    Ctx,
    Unsupported,
    module_builder,
    neuron_kind,
)

# SpikingJelly containers that only fold [T, N] around their children: traced as a chain.
SEQUENTIAL_WRAPPERS = {"SeqToANNContainer", "MultiStepContainer", "StepModeContainer"}


class LeafTracer(fx.Tracer):
    """Keeps modules with an IR builder (and neuron modules) as leaves; unwraps
    SpikingJelly's T·N folding containers into their children."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if module_builder(m) is not None:
            return True
        return super().is_leaf_module(m, qualname)

    def __init__(self) -> None:
        super().__init__()
        self.per_step: set[str] = set()  # wrapped children: they run on the [T·N, ...] fold

    def call_module(self, m: nn.Module, forward: Any, args: Any, kwargs: Any) -> Any:
        if type(m).__name__ in SEQUENTIAL_WRAPPERS and len(args) == 1 and not kwargs:
            x = args[0]
            folds = getattr(m, "step_mode", "m") == "m"
            for child in m.children():
                if folds:
                    self.per_step.add(self.path_of_module(child))
                x = self.call_module(child, child.forward, (x,), {})
            return x
        return super().call_module(m, forward, args, kwargs)


def _lead_axes(model: nn.Module) -> int:
    multi = any(getattr(m, "step_mode", "s") == "m" for m in model.modules())
    return 2 if multi else 1


def example_input(model: nn.Module, x: torch.Tensor, n: int = 2) -> torch.Tensor:
    """The first ``n`` samples of a sample-major batch as ``model`` takes them: ``[n, ...]``,
    or ``[T, n, ...]`` for a multi-step SpikingJelly model (whose data is ``[N, T, ...]``)."""
    return x[:n].swapaxes(0, 1) if _lead_axes(model) == 2 else x[:n]


def trace(model: nn.Module) -> fx.GraphModule:
    """Symbolically trace ``model``; data-dependent control flow becomes a CaptureError."""
    name = type(model).__name__
    try:
        tracer = LeafTracer()
        graph = tracer.trace(model)
    except Exception as exc:  # fx raises many types; report the first line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "control flow" in reason or "iterate" in reason:
            reason = f"data-dependent control flow ({reason})"
        raise CaptureError(f"cannot trace model {name}: {reason}") from None
    # fx turns every parameter *access* while tracing into a get_attr node, including the
    # hasattr(m, "w") probe that recognises ParametricLIFNode in is_leaf_module: drop the
    # ones nothing reads, so they are not reported as unsupported.
    for n in list(graph.nodes):
        if n.op == "get_attr" and not n.users:
            graph.erase_node(n)
    gm = fx.GraphModule(model, graph, class_name=name)
    gm.meta["per_step"] = frozenset(tracer.per_step)
    return gm


class _ShapeProp(ShapeProp):
    """ShapeProp that runs the children of SpikingJelly's folding containers on the folded
    ``[T·N, ...]`` batch, as the containers do, and records ``[T, N, ...]`` shapes. It
    remembers the node it runs, to name it when that fails."""

    current: str | None = None

    def run_node(self, n: fx.Node) -> Any:
        self.current = n.name
        return super().run_node(n)

    def call_module(self, target: Any, args: Any, kwargs: Any) -> Any:
        if neuron_kind(self.fetch_attr(target)) is not None:
            return torch.zeros_like(args[0])  # spikes have the input's shape
        if target in self.module.meta.get("per_step", ()) and len(args) == 1:
            x = args[0]
            y = super().call_module(target, (x.flatten(0, 1),), kwargs)
            return y.unflatten(0, x.shape[:2])
        return super().call_module(target, args, kwargs)


def _shape(n: fx.Node, lead: int) -> tuple[int, ...] | None:
    meta = n.meta.get("tensor_meta")
    if meta is None or not hasattr(meta, "shape"):
        return None
    return tuple(int(s) for s in meta.shape[lead:])


def _describe(n: fx.Node, gm: fx.GraphModule) -> str:
    if n.op == "call_module":
        return f"{type(gm.get_submodule(n.target)).__name__} at {n.target}"
    target = n.target if isinstance(n.target, str) else getattr(n.target, "__name__", n.target)
    return f"{n.op} {target}"


def capture(
    model: nn.Module, example: torch.Tensor | tuple[torch.Tensor, ...], check: bool = True
) -> Graph:
    """Trace ``model`` into a :class:`Graph`.

    ``example`` is one input batch ``[N, ...]`` (``[T, N, ...]`` for SpikingJelly models in
    multi-step mode), or a tuple of them for several inputs.
    """
    examples = example if isinstance(example, tuple) else (example,)
    model = copy.deepcopy(model).eval()
    bad = [
        k
        for k, t in itertools.chain(model.named_parameters(), model.named_buffers())
        if t.is_floating_point() and not bool(torch.isfinite(t).all())
    ]
    if bad:
        raise InputError(f"model {type(model).__name__} holds NaN or Inf in {', '.join(bad)}")
    lead = _lead_axes(model)
    gm = trace(model)
    prop = _ShapeProp(gm)
    try:
        # ShapeProp prints a traceback to stderr before re-raising: keep it off the console
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            prop.propagate(*examples)
    except Exception as exc:
        cause = exc.__cause__ or exc
        msg = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        shapes = ", ".join(str(list(e.shape[lead:])) for e in examples)
        raise CaptureError(
            f"model {type(model).__name__} failed on the example input (per-sample shape "
            f"{shapes}) at node '{prop.current}': {msg}"
        ) from None

    nodes: dict[str, ir.Node] = {}
    edges: dict[str, tuple[str, ...]] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    source: dict[str, str] = {}
    alias: dict[str, str] = {}  # fx node -> IR value it passes through
    problems: list[str] = []
    outputs: tuple[str, ...] = ()

    def ref(a: Any) -> str:
        return alias.get(a.name, a.name)

    for n in gm.graph.nodes:
        out_shape = _shape(n, lead)
        if n.op == "placeholder":
            if out_shape is None:
                raise CaptureError(f"input '{n.name}' is not a tensor")
            node = ir.Input(out_shape, sequence=lead == 2)
            nodes[n.name], edges[n.name], shapes[n.name] = node, (), out_shape
            continue
        if n.op == "output":
            outs = n.args[0] if isinstance(n.args[0], (tuple, list)) else (n.args[0],)
            if not all(isinstance(o, fx.Node) for o in outs):
                problems.append("output: the model returns a non-tensor value")
            else:
                outputs = tuple(ref(o) for o in outs)
            continue
        if n.op == "get_attr":
            problems.append(f"'{n.name}' (reads parameter {n.target} as a tensor in forward)")
            continue
        flat = [b for a in n.args for b in (a if isinstance(a, (tuple, list)) else (a,))]
        tensor_args = [
            a for a in flat if isinstance(a, fx.Node) and (a.name in nodes or a.name in alias)
        ]
        if out_shape is None:
            if n.target in SIZE_HELPERS:
                continue
            problems.append(f"'{n.name}' ({_describe(n, gm)}): non-tensor result")
            continue
        if n.op == "call_method" and n.target in PASSTHROUGH:
            alias[n.name] = ref(n.args[0])
            continue
        in_shape = shapes.get(ref(tensor_args[0]), ()) if tensor_args else ()
        try:
            if n.op == "call_module":
                mod = gm.get_submodule(n.target)
                builder = module_builder(mod)
                if builder is None:
                    raise Unsupported("no IR mapping")
                # SpikingJelly's step-aware layers count dims per step, plain torch ones don't
                per_step = hasattr(mod, "step_mode") or n.target in gm.meta["per_step"]
                ctx = Ctx(in_shape, out_shape, 1 if per_step else lead)
                node = builder(mod, ctx)
                source[n.name] = str(n.target)
            else:
                builder = FUNCTION_BUILDERS.get(n.target)
                if builder is None:
                    raise Unsupported("no IR mapping")
                ctx = Ctx(in_shape, out_shape, lead, tuple(n.args), dict(n.kwargs))
                node = builder(ctx)
                if isinstance(node, ir.Add) and len(tensor_args) != len(flat):
                    raise Unsupported("adds a constant (only tensor + tensor is supported)")
        except (Unsupported, ValueError) as exc:
            problems.append(f"'{n.name}' ({_describe(n, gm)}): {exc}")
            continue
        ins = tuple(ref(a) for a in tensor_args)
        if isinstance(node, Chain):  # one call → several IR nodes; the last keeps the name
            for k, (part, shape) in enumerate(node.parts[:-1]):
                name = f"{n.name}_{k}_{part.op.lower()}"
                nodes[name], edges[name], shapes[name] = part, ins, shape
                ins = (name,)
            node = node.parts[-1][0]
        nodes[n.name] = node
        edges[n.name] = ins
        shapes[n.name] = out_shape

    if problems:
        supported = sorted(
            {c.__name__ for c in MODULE_BUILDERS} | {"IFNode", "LIFNode", "ParametricLIFNode"}
        )
        raise UnsupportedOpError(
            f"{len(problems)} unsupported node(s) in {type(model).__name__}: "
            + "; ".join(problems)
            + f". Supported modules: {', '.join(supported)} (extend "
            "sjconvert.frontends.builders.MODULE_BUILDERS to add one)"
        )
    graph = Graph(nodes, edges, outputs, shapes, {"source": source, "lead_axes": lead})
    if check and lead == 1 and not any(node.spiking for node in nodes.values()):
        _check_equivalence(graph, gm, examples)
    return graph


def _check_equivalence(
    graph: Graph, gm: fx.GraphModule, examples: tuple[torch.Tensor, ...]
) -> None:
    """The IR must reproduce the traced model on the example input."""
    with torch.no_grad():
        want = gm(*examples)
    want = want if isinstance(want, (tuple, list)) else (want,)
    values = Simulator(graph).rate(*examples)
    for name, w in zip(graph.outputs, want, strict=True):
        got, w = values[name].numpy(), w.detach().float().numpy()
        err = float(np.max(np.abs(got - w))) if w.size else 0.0
        if err > 1e-4 * max(1.0, float(np.max(np.abs(w)))):
            raise CaptureError(
                f"captured graph differs from the model at output '{name}' (max error {err:.3g})"
            )
