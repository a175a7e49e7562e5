"""The validation step in front of every ONNX import: :func:`read_onnx` reads and checks a
file, and an importer works only on the model it returns.

* Nothing outside the file is read: tensors stored as *external data* (other files named
  by relative path, ``../`` included) are refused, in the main graph and in sub-graphs.
* The default-domain opset is one the import chain handles (:data:`MIN_OPSET` to the
  newest this ``onnx`` knows).
* The model passes ONNX's checker and strict shape inference with type checks, so a
  malformed graph (an input naming no value, a wrong attribute type, a rank mismatch) is
  one line here rather than an exception deep inside a converter.
* Every initializer and constant holds real numbers (complex and string tensors refused),
  its stored bytes match its declared shape, and floating values are finite.
* The graph has outputs, and the geometry attributes of its nodes (kernel shapes, strides,
  pads, dilations) are sizes a tensor can have, a convolution's kernel shape that of its
  weight.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InputError
from ..ir.hdf5 import check_readable

if TYPE_CHECKING:
    import onnx

MAX_ONNX_BYTES = 2 << 30  # protobuf's own limit for one message
MIN_OPSET = 7  # the oldest default-domain opset the import chain handles
GEOMETRY = ("kernel_shape", "strides", "pads", "dilations", "output_padding", "output_shape")
MAX_DIM = (1 << 31) - 1  # no tensor axis is longer


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _graphs(graph: onnx.GraphProto) -> Iterator[onnx.GraphProto]:
    """``graph`` and every sub-graph held in node attributes (If, Loop, Scan bodies)."""
    yield graph
    for node in graph.node:
        for a in node.attribute:
            for sub in [a.g] if a.HasField("g") else list(a.graphs):
                yield from _graphs(sub)


def _tensors(graph: onnx.GraphProto) -> Iterator[tuple[str, onnx.TensorProto]]:
    """Every stored tensor: initializers, sparse initializers and tensor attributes."""
    for g in _graphs(graph):
        for t in g.initializer:
            yield f"initializer '{t.name}'", t
        for s in g.sparse_initializer:
            yield f"sparse initializer '{s.values.name}'", s.values
        for node in g.node:
            for a in node.attribute:
                for t in [a.t] if a.HasField("t") else list(a.tensors):
                    yield f"node '{node.name or node.op_type}' attribute '{a.name}'", t


def _check_tensor(what: str, t: onnx.TensorProto, path: Path) -> None:
    import onnx
    from onnx import numpy_helper

    if t.data_location == onnx.TensorProto.EXTERNAL or t.external_data:
        raise InputError(f"{path}: {what} is stored in another file (external data, refused)")
    if t.data_type in (
        onnx.TensorProto.COMPLEX64,
        onnx.TensorProto.COMPLEX128,
        onnx.TensorProto.STRING,
        onnx.TensorProto.UNDEFINED,
    ):
        kind = onnx.TensorProto.DataType.Name(t.data_type).lower()
        raise InputError(f"{path}: {what} holds {kind} values, not real numbers")
    try:
        arr = numpy_helper.to_array(t)
    except Exception as exc:  # onnx raises ValueError, TypeError, KeyError, ... on bad bytes
        raise InputError(f"{path}: {what} is corrupt ({_first_line(exc)})") from None
    if arr.dtype.kind == "f" and not np.isfinite(arr.astype(np.float64)).all():
        raise InputError(f"{path}: {what} holds NaN or Inf")


def _load(p: Path) -> Any:
    import onnx

    try:
        return onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # protobuf raises DecodeError, RuntimeError, ... on bad bytes
        raise InputError(f"{p}: not an ONNX file ({_first_line(exc)})") from None


def _check_opset(model: onnx.ModelProto, path: Path) -> None:
    import onnx

    newest = onnx.defs.onnx_opset_version()
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx") and not MIN_OPSET <= entry.version <= newest:
            raise InputError(
                f"{path}: ONNX opset {entry.version} is not supported "
                f"(opsets {MIN_OPSET} to {newest})"
            )


def _check_geometry(graph: onnx.GraphProto, path: Path) -> None:
    """Kernel shapes, strides, pads and dilations within tensor sizes; a convolution's
    ``kernel_shape`` equal to its constant weight's spatial shape (as ONNX requires)."""
    weights = {t.name: tuple(t.dims) for t in graph.initializer}
    for node in graph.node:
        where = f"node '{node.name or node.output[0] if node.output else node.op_type}'"
        for a in node.attribute:
            if a.name in GEOMETRY and any(not 0 <= v <= MAX_DIM for v in a.ints):
                bad = next(v for v in a.ints if not 0 <= v <= MAX_DIM)
                raise InputError(
                    f"{path}: {where} ({node.op_type}) has {a.name} {bad}, not a size a tensor "
                    f"can have (0 to {MAX_DIM})"
                )
        kernel = next((list(a.ints) for a in node.attribute if a.name == "kernel_shape"), None)
        w = weights.get(node.input[1]) if len(node.input) > 1 else None
        if (
            node.op_type == "Conv"
            and kernel is not None
            and w is not None
            and list(w[2:]) != kernel
        ):
            raise InputError(
                f"{path}: {where} (Conv) has kernel_shape {kernel} but its weight "
                f"'{node.input[1]}' is {list(w)}"
            )


def read_onnx(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """The ONNX model at ``path``, read and checked (see the module docstring)."""
    import onnx

    p = check_readable(path)
    if p.stat().st_size > MAX_ONNX_BYTES:
        raise InputError(f"{p}: larger than {MAX_ONNX_BYTES >> 30} GiB, not an ONNX model file")
    model = _load(p)
    if not model.graph.node:
        raise InputError(f"{p}: not an ONNX model (no graph nodes)")
    if not model.graph.output:
        raise InputError(f"{p}: invalid ONNX model (the graph has no outputs)")
    _check_opset(model, p)
    for g in _graphs(model.graph):
        _check_geometry(g, p)
    for what, t in _tensors(model.graph):
        _check_tensor(what, t, p)
    try:
        onnx.checker.check_model(model)
        onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as exc:  # ValidationError, InferenceError, and C++ errors as RuntimeError
        raise InputError(f"{p}: invalid ONNX model ({_first_line(exc)})") from None
    return model
