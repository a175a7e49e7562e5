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
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from ..errors import CaptureError, InputError, UnsupportedOpError
from ..exec.data_layout import layout_hint
from ..exec.reference import Simulator
from ..ir.graph import Graph
from .builders import module_builder, neuron_kind
from .constants import constant_nodes
from .fx_to_ir import to_ir, unmapped
from .refusals import report

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


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """``model`` in eval mode for the duration (tracing follows ``self.training``)."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


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
    gm.meta["scope"] = {k: path for k, (path, _) in tracer.node_name_to_scope.items()}
    gm.meta["constant_names"] = frozenset(constant_nodes(gm))
    gm.meta["constants"] = {}
    return gm


class _ShapeProp(ShapeProp):
    """ShapeProp that runs the children of SpikingJelly's folding containers on the folded
    ``[T·N, ...]`` batch, as the containers do, and records ``[T, N, ...]`` shapes. It
    remembers the node it runs, to name it when that fails."""

    current: str | None = None

    def run_node(self, n: fx.Node) -> Any:
        self.current = n.name
        result = super().run_node(n)
        if n.name in self.module.meta.get("constant_names", ()):
            self.module.meta["constants"][n.name] = result
        return result

    def call_module(self, target: Any, args: Any, kwargs: Any) -> Any:
        if neuron_kind(self.fetch_attr(target)) is not None:
            return torch.zeros_like(args[0])  # spikes have the input's shape
        if target in self.module.meta.get("per_step", ()) and len(args) == 1:
            x = args[0]
            y = super().call_module(target, (x.flatten(0, 1),), kwargs)
            return y.unflatten(0, x.shape[:2])
        return super().call_module(target, args, kwargs)


def capture(
    model: nn.Module, example: torch.Tensor | tuple[torch.Tensor, ...], check: bool = True
) -> Graph:
    """Trace ``model`` into a :class:`Graph`.

    ``example`` is one input batch ``[N, ...]`` (``[T, N, ...]`` for SpikingJelly models in
    multi-step mode), or a tuple of them for several inputs.
    """
    examples = example if isinstance(example, tuple) else (example,)
    name = type(model).__name__
    bad = [
        k
        for k, t in itertools.chain(model.named_parameters(), model.named_buffers())
        if t.is_floating_point() and not bool(torch.isfinite(t).all())
    ]
    if bad:
        raise InputError(f"model {name} holds NaN or Inf in {', '.join(bad)}")
    lead = _lead_axes(model)
    if module_builder(model) is not None:  # a single layer: trace it as a leaf
        model = nn.Sequential(model)
    with _eval_mode(model):
        gm = trace(model)
    problems = unmapped(gm)
    if problems:  # refused before running (or copying) the model
        raise UnsupportedOpError(report(name, problems))
    meta = dict(gm.meta)
    gm = copy.deepcopy(gm).eval()  # running it must not change the caller's model
    gm.meta.update(meta)
    _propagate(gm, examples, lead, name)
    graph = to_ir(gm, lead, name)
    if check and lead == 1 and not any(node.spiking for _, node in graph):
        _check_equivalence(graph, gm, examples)
    return graph


def _propagate(
    gm: fx.GraphModule, examples: tuple[torch.Tensor, ...], lead: int, name: str
) -> None:
    prop = _ShapeProp(gm)
    try:
        # ShapeProp prints a traceback to stderr before re-raising: keep it off the console
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            prop.propagate(*(e.clone() for e in examples))
    except Exception as exc:
        cause = exc.__cause__ or exc
        msg = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        shapes = ", ".join(str(list(e.shape[lead:])) for e in examples)
        _refuse_channels_last(gm, examples, lead, f"model {name} fails on it ({msg})")
        raise CaptureError(
            f"model {name} failed on the example input (per-sample shape "
            f"{shapes}) at node '{prop.current}': {msg}"
        ) from None


def _refuse_channels_last(
    gm: fx.GraphModule, examples: tuple[torch.Tensor, ...], lead: int, failure: str
) -> None:
    """Raise an :class:`InputError` with the layout hint when the model, failing on the
    example, runs on it with its channels moved from last to first (NHWC data for an NCHW
    model): the data, not the model, is wrong."""
    if len(examples) != 1 or examples[0].dim() < lead + 2:
        return
    x = examples[0]
    moved = x.movedim(-1, lead)
    try:
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            _ShapeProp(gm).propagate(moved.clone())
    except Exception:
        return  # no better explanation: the model's own failure stands
    hint = layout_hint(x.shape[lead:], moved.shape[lead:])
    raise InputError(f"data 'x' of per-sample shape {list(x.shape[lead:])}: {failure}{hint}")


def _check_equivalence(
    graph: Graph, gm: fx.GraphModule, examples: tuple[torch.Tensor, ...]
) -> None:
    """The IR must reproduce the traced model on the example input."""
    with torch.no_grad():
        want = gm(*(e.clone() for e in examples))
    want = want if isinstance(want, (tuple, list)) else (want,)
    values = Simulator(graph).rate(*examples)
    for name, w in zip(graph.outputs, want, strict=True):
        got, w = values[name].numpy(), w.detach().float().numpy()
        err = float(np.max(np.abs(got - w))) if w.size else 0.0
        if err > 1e-4 * max(1.0, float(np.max(np.abs(w)))):
            raise CaptureError(
                f"captured graph differs from the model at output '{name}' (max error {err:.3g})"
            )
