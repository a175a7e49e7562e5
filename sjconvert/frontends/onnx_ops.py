"""One builder per ONNX op type, producing the IR nodes capture produces.

A builder reads its inputs from the :class:`Importer`-like ``imp`` (``imp.const(i)`` for a
constant, ``imp.tensor(i)`` for a per-sample value), emits IR nodes (``imp.emit``) or
constants (``imp.set_const``), and raises :class:`Unsupported` with the reason. Shape
sub-graphs (``Shape → Gather → Concat → Reshape``) are evaluated on constants, with the batch
size standing for itself as :data:`BATCH`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from ..ir import nodes as ir
from .builders import Unsupported
from .registry import Builders

BATCH = 2_147_483_647  # the symbolic batch size inside evaluated shape arithmetic


class Imp(Protocol):
    attrs: dict[str, Any]
    n_inputs: int

    def is_const(self, i: int) -> bool: ...
    def const(self, i: int) -> np.ndarray: ...
    def tensor(self, i: int) -> tuple[str, tuple[int, ...]]: ...
    def producer(self, i: int) -> tuple[str, ir.Node] | None: ...
    def emit(self, node: ir.Node, ins: tuple[str, ...], out: int = 0) -> str: ...
    def replace(self, name: str, node: ir.Node) -> None: ...
    def alias(self, value: str, out: int = 0) -> None: ...
    def set_const(self, value: np.ndarray, out: int = 0) -> None: ...
    def pad_of(self, i: int) -> tuple[str, list[int]] | None: ...
    def set_pad(self, src: str, pads: list[int]) -> None: ...


Builder = Callable[[Imp], None]
OP_BUILDERS: Builders[str, Builder] = Builders("ONNX op type")
op = OP_BUILDERS.register  # @op("Conv"): the builder of one or more op types, each once


def _axis(a: int, rank: int) -> int:
    """An ONNX axis (negative counts from the end) of a rank-``rank`` value, as an IR dim."""
    a = a + rank if a < 0 else a
    if a == 0:
        raise Unsupported("operates on the batch axis")
    return a


def _all_const(imp: Imp) -> bool:
    return all(imp.is_const(i) for i in range(imp.n_inputs))


# -- constants and shape arithmetic -------------------------------------------------------
_NUMPY: dict[str, Callable[..., np.ndarray]] = {
    "Add": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Equal": np.equal,
    "Where": np.where,
    "Floor": np.floor,
    "Ceil": np.ceil,
    "Neg": np.negative,
    "Abs": np.abs,
    "Sqrt": np.sqrt,
}


def fold(op_type: str, imp: Imp) -> bool:
    """Evaluate ``op_type`` when every input is a constant; False when it cannot."""
    if not _all_const(imp) or not (op_type in _NUMPY or op_type in _FOLD):
        return False
    xs = [imp.const(i) for i in range(imp.n_inputs)]
    out = _NUMPY[op_type](*xs) if op_type in _NUMPY else _FOLD[op_type](imp, xs)
    imp.set_const(np.asarray(out))
    return True


def _div(imp: Imp, xs: list[np.ndarray]) -> np.ndarray:
    a, b = xs
    return a // b if a.dtype.kind in "iu" and b.dtype.kind in "iu" else a / b


def _cast(imp: Imp, xs: list[np.ndarray]) -> np.ndarray:
    from onnx import helper

    return xs[0].astype(helper.tensor_dtype_to_np_dtype(imp.attrs["to"]))


def _gather(imp: Imp, xs: list[np.ndarray]) -> np.ndarray:
    return np.take(xs[0], xs[1], axis=imp.attrs.get("axis", 0))


def _unsqueeze(imp: Imp, xs: list[np.ndarray]) -> np.ndarray:
    axes = xs[1] if len(xs) > 1 else imp.attrs["axes"]
    out = xs[0]
    rank = out.ndim + len(axes)
    for a in sorted(int(a) + rank if a < 0 else int(a) for a in axes):
        out = np.expand_dims(out, a)
    return out


def _squeeze(imp: Imp, xs: list[np.ndarray]) -> np.ndarray:
    axes = xs[1] if len(xs) > 1 else imp.attrs.get("axes")
    return np.squeeze(xs[0], None if axes is None else tuple(int(a) for a in axes))


def _concat(imp: Imp, xs: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(xs, axis=imp.attrs["axis"])


def _slice(imp: Imp, xs: list[np.ndarray]) -> np.ndarray:
    data, starts, ends = xs[:3]
    axes = xs[3] if len(xs) > 3 else range(len(starts))
    steps = xs[4] if len(xs) > 4 else [1] * len(starts)
    index = [slice(None)] * data.ndim
    for s, e, a, st in zip(starts, ends, axes, steps, strict=True):
        index[int(a)] = slice(int(s), int(e), int(st))
    return data[tuple(index)]


def _constant_of_shape(imp: Imp, xs: list[np.ndarray]) -> np.ndarray:
    value = imp.attrs.get("value", np.zeros(1, np.float32))
    return np.full(tuple(int(v) for v in xs[0]), np.asarray(value).reshape(-1)[0])


def _range(imp: Imp, xs: list[np.ndarray]) -> np.ndarray:
    return np.arange(xs[0], xs[1], xs[2])


def _transpose_const(imp: Imp, xs: list[np.ndarray]) -> np.ndarray:
    return np.transpose(xs[0], imp.attrs.get("perm"))


def _reshape_const(imp: Imp, xs: list[np.ndarray]) -> np.ndarray:
    shape = [d if d != 0 else xs[0].shape[i] for i, d in enumerate(xs[1].tolist())]
    return xs[0].reshape(shape)


_FOLD: dict[str, Callable[[Imp, list[np.ndarray]], np.ndarray]] = {
    "Div": _div,
    "Cast": _cast,
    "Gather": _gather,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Concat": _concat,
    "Slice": _slice,
    "ConstantOfShape": _constant_of_shape,
    "Range": _range,
    "Transpose": _transpose_const,
    "Reshape": _reshape_const,
    "ReduceProd": lambda imp, xs: np.prod(xs[0], keepdims=bool(imp.attrs.get("keepdims", 1))),
}


@op(*sorted(set(_NUMPY) - {"Add", "Sub", "Mul"}), "Cast", "Gather", "ConstantOfShape", "Range")
@op("ReduceProd")
def _const_only(imp: Imp) -> None:
    if fold(imp.attrs["__op"], imp):
        return
    if imp.attrs["__op"] == "Cast" and imp.attrs["to"] == 1 and not imp.is_const(0):
        imp.alias(imp.tensor(0)[0])  # a Cast of a float tensor to float32
        return
    raise Unsupported("only on constants (shape arithmetic)")


@op("Constant")
def _constant(imp: Imp) -> None:
    from onnx import numpy_helper

    a = imp.attrs
    if "value" in a:
        imp.set_const(numpy_helper.to_array(a["value"]))
    elif "value_float" in a or "value_int" in a:
        imp.set_const(np.asarray(a.get("value_float", a.get("value_int"))))
    elif "value_floats" in a or "value_ints" in a:
        imp.set_const(np.asarray(a.get("value_floats", a.get("value_ints"))))
    else:
        raise Unsupported("a Constant without a numeric value")


@op("Shape")
def _shape(imp: Imp) -> None:
    _, shape = imp.tensor(0)
    full = np.array([BATCH, *shape], np.int64)
    imp.set_const(full[imp.attrs.get("start", 0) : imp.attrs.get("end", len(full))])


@op("Identity", "Dropout")
def _identity(imp: Imp) -> None:
    if imp.is_const(0):
        imp.set_const(imp.const(0))
    else:
        imp.alias(imp.tensor(0)[0])


# -- data movement --------------------------------------------------------------------------
def batch_shape(target: np.ndarray, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A Reshape target ``[batch, ...]`` as a per-sample shape (0 copies, -1 is inferred)."""
    t = [int(v) for v in target]
    if not t or t[0] not in (0, -1, 1, BATCH):
        raise Unsupported(f"reshape to {t} changes the batch axis")
    rest = [shape[i - 1] if v == 0 else v for i, v in enumerate(t[1:], start=1)]
    if t[0] == -1 and -1 in rest:
        raise Unsupported(f"reshape to {t} with two inferred sizes")
    if -1 in rest:
        known = math.prod(v for v in rest if v != -1)
        rest[rest.index(-1)] = math.prod(shape) // max(known, 1)
    if math.prod(rest) != math.prod(shape) or BATCH in rest:
        raise Unsupported(f"reshape to {t} mixes the batch axis with others")
    return tuple(rest)


def _reshaped(imp: Imp, src: str, shape: tuple[int, ...], new: tuple[int, ...]) -> None:
    if new == shape:
        imp.alias(src)
    elif new == (math.prod(shape),):
        imp.emit(ir.Flatten(1, -1), (src,))
    else:
        imp.emit(ir.Reshape(new), (src,))


@op("Reshape")
def _reshape(imp: Imp) -> None:
    if fold("Reshape", imp):
        return
    src, shape = imp.tensor(0)
    _reshaped(imp, src, shape, batch_shape(imp.const(1), shape))


@op("Flatten")
def _flatten(imp: Imp) -> None:
    src, shape = imp.tensor(0)
    axis = imp.attrs.get("axis", 1)
    if axis not in (1, -len(shape)):
        raise Unsupported(f"Flatten axis={axis} (only 1 keeps the batch axis)")
    _reshaped(imp, src, shape, (math.prod(shape),))


@op("Unsqueeze", "Squeeze")
def _squeeze_unsqueeze(imp: Imp) -> None:
    op_type = imp.attrs["__op"]
    if fold(op_type, imp):
        return
    src, shape = imp.tensor(0)
    probe = np.empty((2, *shape), np.bool_)  # a batch of 2 cannot be squeezed away
    xs = [probe] + ([imp.const(1)] if imp.n_inputs > 1 else [])
    new = (_unsqueeze if op_type == "Unsqueeze" else _squeeze)(imp, xs).shape
    if not new or new[0] != 2:
        raise Unsupported(f"{op_type} on the batch axis")
    _reshaped(imp, src, shape, tuple(new[1:]))


@op("Transpose")
def _transpose(imp: Imp) -> None:
    if fold("Transpose", imp):
        return
    src, shape = imp.tensor(0)
    perm = list(imp.attrs.get("perm", reversed(range(len(shape) + 1))))
    if perm[0] != 0:
        raise Unsupported(f"Transpose perm={perm} moves the batch axis")
    imp.emit(ir.Transpose(tuple(perm[1:])), (src,))


@op("Concat")
def _concat_op(imp: Imp) -> None:
    if fold("Concat", imp):
        return
    ins = [imp.tensor(i) for i in range(imp.n_inputs)]
    imp.emit(ir.Concat(_axis(imp.attrs["axis"], len(ins[0][1]) + 1)), tuple(n for n, _ in ins))


@op("Slice")
def _slice_op(imp: Imp) -> None:
    if fold("Slice", imp):
        return
    src, shape = imp.tensor(0)
    consts = [imp.const(i) for i in range(1, imp.n_inputs)]
    starts, ends = consts[0], consts[1]
    axes = consts[2] if len(consts) > 2 else np.arange(len(starts))
    steps = consts[3] if len(consts) > 3 else np.ones(len(starts), np.int64)
    for s, e, a, st in zip(starts, ends, axes, steps, strict=True):
        d = _axis(int(a), len(shape) + 1)
        start, stop, step = slice(int(s), int(e), int(st)).indices(shape[d - 1])
        if step != 1 or stop <= start:
            raise Unsupported(f"Slice with step {st} or empty range")
        if (start, stop) != (0, shape[d - 1]):
            src = imp.emit(ir.Slice(d, start, stop), (src,))
            shape = (*shape[: d - 1], stop - start, *shape[d:])
    imp.alias(src)


@op("Split")
def _split(imp: Imp) -> None:
    src, shape = imp.tensor(0)
    d = _axis(imp.attrs.get("axis", 0), len(shape) + 1)
    n = shape[d - 1]
    if imp.n_inputs > 1 and imp.is_const(1):
        sizes = [int(v) for v in imp.const(1)]
    elif "split" in imp.attrs:
        sizes = [int(v) for v in imp.attrs["split"]]
    else:
        parts = imp.attrs.get("num_outputs", imp.attrs["__outputs"])
        size = -(-n // parts)
        sizes = [min(size, n - k * size) for k in range(parts)]
    start = 0
    for k, size in enumerate(sizes):
        imp.emit(ir.Slice(d, start, start + size), (src,), out=k)
        start += size
