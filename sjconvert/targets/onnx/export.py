"""Export an SNN to ONNX (opset 17) with torch's TorchScript-based exporter, which runs
offline and gives the same file for the same graph; the dynamo exporter is not used.

Two forms (``sjconvert to-onnx --unroll T | --step``):

* unrolled: input ``[N, ...]`` (or ``[T·N, ...]``), output rates ``[N, classes]`` after T
  steps — the Lynxi module (:mod:`sjconvert.targets.lynxi.net`) in float32 (or float16);
* step: ``(x, t, state) -> (rates, t + 1, state')`` (:mod:`.step`); the initial state is
  stored in the file's metadata (``sjconvert.initial_state``, see :func:`initial_state`).

Every exported graph is checked: ``onnx.checker`` and rank ≤ 4 on every input, output,
initializer and inferred ``value_info``.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from ...errors import EmitError, InputError
from ...exec.module import SpikingNet
from ...exec.shapes import with_shapes
from ...ir.graph import Graph
from ...ir.io import atomic_write
from . import check
from .step import StepNet, build_step

MAX_RANK = 4
DTYPES = {"float32": torch.float32, "float16": torch.float16}

OPSET = 17


def rank_violations(model: onnx.ModelProto, max_rank: int = MAX_RANK) -> list[str]:
    """Every graph value (after ONNX shape inference) of rank > ``max_rank`` or unknown."""
    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    found = []
    for kind, values in (("input", g.input), ("output", g.output), ("value", g.value_info)):
        for v in values:
            t = v.type.tensor_type
            if not t.HasField("shape"):
                found.append(f"{kind} {v.name}: rank unknown")
            elif len(t.shape.dim) > max_rank:
                found.append(f"{kind} {v.name}: rank {len(t.shape.dim)} > {max_rank}")
    found += [
        f"initializer {i.name}: rank {len(i.dims)} > {max_rank}"
        for i in g.initializer
        if len(i.dims) > max_rank
    ]
    return found


def _export(
    module: nn.Module,
    args: tuple[torch.Tensor, ...],
    inputs: list[str],
    outputs: list[str],
    batched: list[str],
    meta: dict[str, str],
) -> onnx.ModelProto:
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            buf,
            dynamo=False,
            opset_version=OPSET,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes={name: {0: "N"} for name in batched},
        )
    model = onnx.load_from_string(buf.getvalue())
    model.producer_name = "sjconvert"
    onnx.helper.set_model_props(model, {f"sjconvert.{k}": v for k, v in meta.items()})
    onnx.checker.check_model(model)
    found = rank_violations(model)
    if found:
        raise EmitError(f"ONNX graph has {len(found)} value(s) of rank > 4: {'; '.join(found)}")
    return model


def _example(graph: Graph, lead: int, dtype: torch.dtype) -> torch.Tensor:
    return torch.zeros(lead, *with_shapes(graph).shapes[graph.inputs[0]], dtype=dtype)


def export_unrolled(
    graph: Graph,
    T: int,
    dtype: str = "float32",
    sequence: bool = False,
    counts: bool = False,
) -> onnx.ModelProto:
    """The T-step model. ``counts`` adds ``spikes/<layer>`` outputs (events per sample);
    outputs are read out as every executor reads them (:mod:`sjconvert.ops.readout`)."""
    if dtype not in DTYPES:
        raise InputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    check(graph)
    dt = DTYPES[dtype]
    net = SpikingNet(graph, T, dt, sequence, counts).eval()
    x = _example(graph, T * 2 if sequence else 2, dt)
    meta = {"form": "unrolled", "T": str(T), "dtype": dtype, "sequence": str(sequence).lower()}
    names = net.output_names()
    return _export(net, (x,), [net.input], names, [*names, net.input], meta)


def export_step(graph: Graph, counts: bool = False) -> onnx.ModelProto:
    """The stateful single-step model (float32). ``counts`` adds ``spikes:<layer>`` outputs."""
    check(graph)
    net: StepNet = build_step(graph, counts=counts)
    x = _example(graph, 2, torch.float32)
    names = net.input_names()
    batched = [n for n in names if n != "t"] + [n for n in net.output_names() if n != "t:next"]
    init = {k: v.tolist() for k, v in zip(names[2:], net.initial_state(1)[1:], strict=True)}
    meta = {"form": "step", "dtype": "float32", "initial_state": json.dumps(init)}
    return _export(net, (x, *net.initial_state(2)), names, net.output_names(), batched, meta)


def initial_state(model: onnx.ModelProto, n: int) -> dict[str, np.ndarray]:
    """``t`` and the state inputs of a step model before step 0, for a batch of ``n``."""
    props = {p.key: p.value for p in model.metadata_props}
    if props.get("sjconvert.form") != "step":
        raise EmitError("not a step model exported by sjconvert (no sjconvert.form=step)")
    v0 = json.loads(props["sjconvert.initial_state"])
    out: dict[str, np.ndarray] = {}
    for inp in model.graph.input[1:]:
        t = inp.type.tensor_type
        dtype = onnx.helper.tensor_dtype_to_np_dtype(t.elem_type)
        shape = [
            n if i == 0 and inp.name != "t" else d.dim_value for i, d in enumerate(t.shape.dim)
        ]
        value = np.asarray(v0.get(inp.name, 0.0), dtype=dtype)  # one sample's start
        out[inp.name] = np.broadcast_to(value, shape).astype(dtype)
    return out


def save_onnx(model: onnx.ModelProto, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` atomically (a temporary file renamed into place)."""
    return atomic_write(path, lambda tmp: onnx.save(model, str(tmp)), suffix=".onnx")
