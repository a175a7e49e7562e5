"""ONNX builders for layers, activations, pooling and arithmetic (registered into
:data:`.onnx_ops.OP_BUILDERS`)."""

from __future__ import annotations

import numpy as np

from ..ir import nodes as ir
from .builders import Unsupported, clamp, pool
from .onnx_ops import Imp, fold, op


def _pads(imp: Imp, spatial: int, extra: list[int] | None = None) -> tuple[int, ...]:
    """Symmetric ``pads`` ([begin..., end...]) plus a folded Pad's, as one per axis."""
    if imp.attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"):
        raise Unsupported(f"auto_pad={imp.attrs['auto_pad']!r} (export with explicit pads)")
    pads = np.asarray(imp.attrs.get("pads", [0] * 2 * spatial), np.int64)
    if extra is not None:
        pads = pads + np.asarray(extra, np.int64)
    begin, end = pads[:spatial], pads[spatial:]
    if np.any(begin != end):
        raise Unsupported(f"asymmetric padding {pads.tolist()}")
    return tuple(int(p) for p in begin)


def _input(imp: Imp) -> tuple[str, tuple[int, ...], list[int] | None]:
    """The pooled / convolved value, with the zero padding of a Pad folded into this op."""
    pending = imp.pad_of(0)
    if pending is not None:
        src, pads = pending
        return src, (), pads
    src, shape = imp.tensor(0)
    return src, shape, None


@op("Conv")
def _conv(imp: Imp) -> None:
    src, _, extra = _input(imp)
    w = imp.const(1).astype(np.float32)
    b = imp.const(2).astype(np.float32) if imp.n_inputs > 2 else None
    k = w.ndim - 2
    if k not in (1, 2):
        raise Unsupported(f"{k}-D convolution")
    a = imp.attrs
    cls = ir.Conv1d if k == 1 else ir.Conv2d
    stride, dil = a.get("strides", [1] * k), a.get("dilations", [1] * k)
    imp.emit(cls(w, b, stride, _pads(imp, k, extra), dil, a.get("group", 1)), (src,))


@op("Gemm")
def _gemm(imp: Imp) -> None:
    src, shape = imp.tensor(0)
    a = imp.attrs
    if a.get("transA", 0) or len(shape) != 1:
        raise Unsupported("Gemm with a transposed or non-2-D input")
    w = imp.const(1).astype(np.float64)
    w = (w if a.get("transB", 0) else w.T) * a.get("alpha", 1.0)
    b = None
    if imp.n_inputs > 2:
        c = np.broadcast_to(imp.const(2).astype(np.float64) * a.get("beta", 1.0), (w.shape[0],))
        b = c.astype(np.float32)
    imp.emit(ir.Linear(w.astype(np.float32), b), (src,))


@op("MatMul")
def _matmul(imp: Imp) -> None:
    src, shape = imp.tensor(0)
    if not imp.is_const(1) or imp.const(1).ndim != 2 or len(shape) != 1:
        raise Unsupported("MatMul other than [N, F] × constant [F, G]")
    imp.emit(ir.Linear(imp.const(1).T.astype(np.float32), None), (src,))


@op("BatchNormalization")
def _bn(imp: Imp) -> None:
    src, _ = imp.tensor(0)
    gamma, beta, mean, var = (imp.const(i).astype(np.float32) for i in range(1, 5))
    imp.emit(ir.BatchNorm(mean, var, gamma, beta, float(imp.attrs.get("epsilon", 1e-5))), (src,))


@op("Relu")
def _relu(imp: Imp) -> None:
    imp.emit(ir.ReLU(), (imp.tensor(0)[0],))


@op("Clip")
def _clip(imp: Imp) -> None:
    def bound(i: int, name: str) -> float | None:
        if imp.n_inputs > i and imp.is_const(i):
            return float(imp.const(i))
        return imp.attrs.get(name)

    imp.emit(clamp(bound(1, "min"), bound(2, "max")), (imp.tensor(0)[0],))


@op("Softmax", "LogSoftmax")
def _softmax(imp: Imp) -> None:
    src, shape = imp.tensor(0)
    axis = imp.attrs.get("axis", -1)
    axis = axis + len(shape) + 1 if axis < 0 else axis
    if axis == 0:
        raise Unsupported("softmax over the batch axis")
    imp.emit(ir.Softmax(axis, log=imp.attrs["__op"] == "LogSoftmax"), (src,))


def _pool(imp: Imp, kind: str) -> None:
    src, _shape, extra = _input(imp)
    a = imp.attrs
    k = list(a["kernel_shape"])
    if len(k) not in (1, 2):
        raise Unsupported(f"{len(k)}-D pooling")
    if extra is not None and kind == "Max":
        raise Unsupported("a zero Pad before max pooling")
    stride = a.get("strides", [1] * len(k))
    pads = _pads(imp, len(k), extra)
    count = bool(a.get("count_include_pad", 0)) or extra is not None
    node = pool(
        kind,
        len(k),
        k,
        stride,
        pads,
        bool(a.get("ceil_mode", 0)),
        dilation=a.get("dilations", [1] * len(k)),
        count_include_pad=count,
    )
    imp.emit(node, (src,))


@op("MaxPool")
def _maxpool(imp: Imp) -> None:
    if imp.attrs["__outputs"] > 1:
        raise Unsupported("MaxPool with indices")
    _pool(imp, "Max")


@op("AveragePool")
def _avgpool(imp: Imp) -> None:
    _pool(imp, "Avg")


@op("GlobalAveragePool")
def _global_avg(imp: Imp) -> None:
    src, shape = imp.tensor(0)
    spatial = shape[1:]
    if len(spatial) not in (1, 2):
        raise Unsupported(f"global pooling over {len(spatial)} axes")
    imp.emit((ir.AvgPool1d if len(spatial) == 1 else ir.AvgPool2d)(spatial, spatial, 0), (src,))


@op("ReduceMean")
def _reduce_mean(imp: Imp) -> None:
    src, shape = imp.tensor(0)
    axes = imp.const(1) if imp.n_inputs > 1 else imp.attrs.get("axes")
    if axes is None:
        raise Unsupported("mean over all axes")
    dims = {int(a) + len(shape) + 1 if a < 0 else int(a) for a in axes}
    spatial = shape[1:]
    if min(dims) < 2 or len(spatial) not in (1, 2):
        raise Unsupported(f"mean over axes {sorted(dims)} (only over spatial axes)")
    k = tuple(n if d + 2 in dims else 1 for d, n in enumerate(spatial))
    pooled = imp.emit((ir.AvgPool1d if len(spatial) == 1 else ir.AvgPool2d)(k, k, 0), (src,))
    if not imp.attrs.get("keepdims", 1):
        kept = tuple(n for d, n in enumerate(shape) if d + 1 not in dims)
        node = ir.Flatten(1, -1) if len(kept) == 1 else ir.Reshape(kept)
        imp.replace(pooled, node)


@op("Pad")
def _pad(imp: Imp) -> None:
    src, shape = imp.tensor(0)
    mode = imp.attrs.get("mode", b"constant")
    pads = imp.const(1).tolist() if imp.n_inputs > 1 else list(imp.attrs["pads"])
    value = float(imp.const(2)) if imp.n_inputs > 2 and imp.is_const(2) else 0.0
    rank = len(shape) + 1
    if mode not in (b"constant", "constant") or value != 0.0 or imp.n_inputs > 3:
        raise Unsupported("Pad other than zeros on all axes")
    if any(pads[i] or pads[i + rank] for i in range(2)):
        raise Unsupported("Pad of the batch or channel axis")
    imp.set_pad(src, pads[2:rank] + pads[rank + 2 :])


@op("Add", "Sum")
def _add(imp: Imp) -> None:
    if fold("Add", imp):
        return
    consts = [i for i in range(imp.n_inputs) if imp.is_const(i)]
    if not consts:
        imp.emit(ir.Add(), tuple(imp.tensor(i)[0] for i in range(imp.n_inputs)))
        return
    _add_constant(imp, imp.const(consts[0]), 1 - consts[0])


@op("Sub")
def _sub(imp: Imp) -> None:
    if fold("Sub", imp):
        return
    if not imp.is_const(1) or imp.is_const(0):
        raise Unsupported("subtracts tensors (only a constant bias folds)")
    _add_constant(imp, -imp.const(1), 0)


def _add_constant(imp: Imp, c: np.ndarray, i: int) -> None:
    """``y = x + c`` folds into the bias of the synapse producing ``x`` (read only here)."""
    _src, shape = imp.tensor(i)
    found = imp.producer(i)
    per = np.asarray(c, np.float64).reshape(-1) if c.size in (1, shape[0]) else None
    if found is None or per is None or not found[1].synapse:
        raise Unsupported("adds a constant that does not fold into a preceding layer's bias")
    name, syn = found
    if c.size == shape[0] and c.ndim > 1 and np.squeeze(c).ndim != 1:
        raise Unsupported("adds a constant that varies within a channel")
    bias = np.zeros(syn.weight.shape[0]) if syn.bias is None else syn.bias.astype(np.float64)
    imp.replace(name, syn.evolve(bias=(bias + per).astype(np.float32)))
    imp.alias(name)


@op("Mul", "Div")
def _mul(imp: Imp) -> None:
    op_type = imp.attrs["__op"]
    if fold(op_type, imp):
        return
    consts = [i for i in range(imp.n_inputs) if imp.is_const(i)]
    if len(consts) != 1 or (op_type == "Div" and consts != [1]):
        raise Unsupported("product of two tensors (only a constant factor converts)")
    c = imp.const(consts[0]).astype(np.float64)
    src, shape = imp.tensor(1 - consts[0])
    if c.size not in (1, shape[0]) or (c.size > 1 and c.size != np.squeeze(c).shape[0]):
        raise Unsupported("a factor that varies within a channel")
    factor = (1.0 / c if op_type == "Div" else c).reshape(-1)
    imp.emit(ir.Scale(factor.reshape(()) if factor.size == 1 else factor), (src,))
