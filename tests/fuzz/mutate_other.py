"""Mutations of data files (``.npz``, ``.pt``), state dicts and ONNX models: values, dtypes,
shapes and keys changed at the object level, crafted headers, pickled objects — optionally
followed by byte-level damage."""

from __future__ import annotations

import math
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .values import SCALARS, mutate_bytes, weird_array

LABELS: list[Any] = [
    np.array([0.5] * 8),
    np.array([math.nan] * 8),
    np.array([99] * 8),
    np.array([-1] * 8),
    np.ones((8, 3, 2)),
    np.array([b"a"] * 8),
    np.ones(8, bool),
    np.ones(8, np.complex64),
    np.zeros(7, np.int64),
    np.eye(3)[np.arange(8) % 3] * math.nan,
]


class Opaque:
    """A picklable object that is not a tensor (``weights_only`` loading refuses it)."""

    def __init__(self) -> None:
        self.payload = [1, 2, 3]


def _arrays(seed: dict[str, Any], r: random.Random) -> tuple[dict[str, Any], str]:
    """A mutated ``{x, y}`` mapping (values may become anything)."""
    data = dict(seed)
    key = r.choice(["x", "y", "keys"])
    if key == "keys":
        data[r.choice(["z", "X", "x_"])] = data.pop(r.choice(["x", "y"]))
        return data, "key renamed"
    if key == "y" and r.random() < 0.7:
        data["y"] = r.choice(LABELS)
        return data, f"labels {data['y'].dtype} {list(data['y'].shape)}"
    if r.random() < 0.15:
        data[key] = r.choice(
            [np.float64(1e300) * np.ones((8, 1, 6, 6)), np.ones((8, 1, 6, 6), complex)]
        )
        return data, f"{key} extreme"
    data[key] = weird_array(r, np.asarray(data[key]))
    return data, f"{key} -> {data[key].dtype} {list(data[key].shape)}"


def _huge_npz(dst: Path) -> None:
    """An .npz whose x.npy header declares 10^12 values but stores 16 bytes."""
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }"
    header = header.ljust(118) + "\n"
    body = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + bytes(16)
    with zipfile.ZipFile(dst, "w") as z:
        z.writestr("x.npy", body)


def mutate_npz(seed: Path, dst: Path, r: random.Random) -> str:
    if r.random() < 0.04:
        _huge_npz(dst)
        return "crafted huge header"
    with np.load(seed) as f:
        data, what = _arrays({k: f[k] for k in f.files}, r)
    (np.savez_compressed if r.random() < 0.3 else np.savez)(dst, **data)
    return what + _damage(dst, r)


def _graph_text(text: str, r: random.Random) -> tuple[str, str]:
    """The JSON graph of an archive with one value changed (or its text cut)."""
    if r.random() < 0.2:
        return text[: r.randrange(len(text))], "graph JSON cut"
    spots = [i for i, c in enumerate(text) if c.isdigit()]
    i = r.choice(spots)
    new = r.choice(["-1", "0", "1e30", "null", '"x"', "[]", "2"])
    return text[:i] + new + text[i + 1 :], f"graph value at {i} -> {new}"


def _array_change(a: np.ndarray, r: random.Random) -> tuple[np.ndarray, str]:
    op = r.random()
    if op < 0.3:
        kind = r.choice([np.float64, np.int8, np.complex64, np.bool_, np.uint64])
        return a.astype(kind), f"-> {np.dtype(kind).name}"
    if op < 0.55:
        return a.reshape(-1)[: max(0, a.size - 1)], "shape changed"
    if op < 0.8 and a.size and a.dtype.kind in "iu":
        b = a.copy()
        b.reshape(-1)[r.randrange(a.size)] = np.iinfo(a.dtype).max
        return b, "an element at its largest"
    return np.zeros((0,), a.dtype), "emptied"


def mutate_archive(seed: Path, dst: Path, r: random.Random) -> str:
    """A Lava process-graph artifact (``.lpg.npz``: a JSON graph beside named arrays) with
    its graph text, one array or one key changed."""
    with np.load(seed, allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    key = r.choice(sorted(k for k in data if k != "__graph__"))
    op = r.random()
    if op < 0.3:
        text, what = _graph_text(str(data["__graph__"]), r)
        data["__graph__"] = np.array(text)
    elif op < 0.45:
        data[key + "_"] = data.pop(key)
        what = f"{key} renamed"
    elif op < 0.55:
        del data[key]
        what = f"{key} removed"
    else:
        data[key], what = _array_change(data[key], r)
        what = f"{key} {what}"
    with open(dst, "wb") as f:
        np.savez(f, **data)
    return what + _damage(dst, r)


def mutate_pt_data(seed: Path, dst: Path, r: random.Random) -> str:
    data = torch.load(seed, weights_only=True)
    op = r.random()
    if op < 0.1:
        obj: Any = r.choice([Opaque(), 3, "x", [1, 2, 3], {"x": Opaque()}, (1,)])
        what = f"a {type(obj).__name__}"
    elif op < 0.2:
        obj, what = r.choice([data["x"], (data["x"], data["y"]), [data["x"]]]), "other layout"
    else:
        arrays, what = _arrays({k: v.numpy() for k, v in data.items()}, r)
        obj = {
            k: torch.from_numpy(np.ascontiguousarray(v)) if _tensorable(v) else v.tolist()
            for k, v in arrays.items()
        }
    torch.save(obj, dst)
    return what + _damage(dst, r)


def _tensorable(v: np.ndarray) -> bool:
    return v.dtype.kind in "biufc"


def mutate_state(seed: Path, dst: Path, r: random.Random) -> str:
    state = torch.load(seed, weights_only=True)
    key = r.choice(list(state))
    op = r.choice(["del", "add", "shape", "dtype", "nan", "value", "wrap", "other", "intkey"])
    if op == "del":
        del state[key]
    elif op == "add":
        state["extra.weight"] = torch.ones(2)
    elif op == "shape":
        new = weird_array(r)
        state[key] = torch.from_numpy(
            new.astype(np.float32) if new.dtype.kind in "biuf" else np.ones(3, np.float32)
        )
    elif op == "dtype":
        state[key] = state[key].to(
            r.choice([torch.complex64, torch.int64, torch.bool, torch.float64])
        )
    elif op == "nan":
        state[key] = state[key].float().fill_(r.choice([math.nan, math.inf, 1e30]))
    elif op == "value":
        state[key] = r.choice([s for s in SCALARS if not isinstance(s, float)] + ["x", [1, 2]])
    elif op == "wrap":
        state = {"state_dict": state} if r.random() < 0.5 else {"model": state}
    elif op == "intkey":
        state[7] = state.pop(key)
    else:
        state = r.choice([Opaque(), [1, 2], torch.ones(3), "state"])
    torch.save(state, dst)
    return f"{op} {key}" + _damage(dst, r)


def _damage(dst: Path, r: random.Random) -> str:
    if r.random() >= 0.25:
        return ""
    data, what = mutate_bytes(dst.read_bytes(), r)
    dst.write_bytes(data)
    return f"; {what}"


def mutate_onnx(seed: Path, dst: Path, r: random.Random) -> str:
    import onnx

    model = onnx.load(str(seed))
    what = _onnx_edit(model, r)
    data = model.SerializeToString()
    if r.random() < 0.25:
        data, more = mutate_bytes(data, r)
        what += f"; {more}"
    dst.write_bytes(data)
    return what


def _onnx_edit(model: Any, r: random.Random) -> str:
    import onnx

    g = model.graph
    op = r.choice(
        [
            "dims",
            "dtype",
            "raw",
            "nan",
            "external",
            "node",
            "optype",
            "input",
            "attr",
            "opset",
            "graph_input",
        ]
    )
    init = r.choice(list(g.initializer))
    if op == "dims":
        init.dims[r.randrange(len(init.dims))] = r.choice([0, -1, 2, 10**9])
    elif op == "dtype":
        init.data_type = r.choice(
            [
                onnx.TensorProto.DOUBLE,
                onnx.TensorProto.INT64,
                onnx.TensorProto.COMPLEX64,
                onnx.TensorProto.STRING,
                0,
                99,
            ]
        )
    elif op == "raw":
        init.raw_data = init.raw_data[: r.randrange(len(init.raw_data) + 1)]
    elif op == "nan":
        arr = onnx.numpy_helper.to_array(init).copy()
        arr.reshape(-1)[0] = r.choice([math.nan, math.inf])
        init.CopyFrom(onnx.numpy_helper.from_array(arr, init.name))
    elif op == "external":
        init.data_location = onnx.TensorProto.EXTERNAL
        entry = init.external_data.add()
        entry.key, entry.value = "location", r.choice(["../../etc/passwd", "w.bin", "/etc/hosts"])
    elif op == "node":
        del g.node[r.randrange(len(g.node))]
    elif op == "optype":
        r.choice(list(g.node)).op_type = r.choice(["Foo", "Sigmoid", "MaxPool", "LSTM", "If"])
    elif op == "input":
        node = r.choice(list(g.node))
        node.input[r.randrange(len(node.input))] = r.choice(["missing", "", "x", "y"])
    elif op == "attr":
        node = r.choice(list(g.node))
        node.attribute.append(
            onnx.helper.make_attribute(
                r.choice(["pads", "kernel_shape", "axis", "strides", "alpha"]),
                r.choice([[-1, -1, -1, -1], [10**6, 10**6], 7, 0.5, "s", [0, 0]]),
            )
        )
    elif op == "opset":
        model.opset_import[0].version = r.choice([0, 1, 9999])
    else:
        dims = g.input[0].type.tensor_type.shape.dim
        dims[r.randrange(len(dims))].dim_value = r.choice([0, 2, 7, 10**9])
    return op
