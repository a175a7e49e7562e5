"""The validation step for NetX HDF5 networks: :func:`read_netx` checks the whole file and
returns its layers; the fit report (and anything else reading NetX) uses only those.

The file is read through :func:`sjconvert.ir.hdf5.read_hdf5` (nothing outside it is read).
Then, in one line naming the layer and key: layers are ``layer/0 … layer/<n-1>``; layer 0 is
the ``input`` with a shape; every other layer is ``flatten``, ``dense`` or ``conv`` (the
chain ``write_netx`` writes, ``docs/lava.md``); a dense weight is 2-D ``[out, in]`` and a
conv weight 4-D ``[out, in/groups, kH, kW]``, real and finite, and each fits the layer before
it and the layer's own output shape; a neuron group names ``CUBA`` or ``SDNN`` and its
threshold, decays and bias are finite; and a network without a synaptic layer is empty.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ....errors import InputError
from ....ir.hdf5 import H5Group, read_hdf5
from ....ir.isolate import isolated

KINDS = ("input", "flatten", "dense", "conv")
NEURONS = ("CUBA", "SDNN")
MAX_MANTISSA = float(1 << 24)


@dataclass(frozen=True)
class NetxLayer:
    """One checked synaptic layer: output shape, weight, conv groups and strides, neuron."""

    index: int
    kind: str
    shape: tuple[int, ...]
    weight: np.ndarray
    groups: int
    stride: tuple[int, ...]
    neuron: str


class _Bad(ValueError):
    """A value of the file that is not what NetX holds (the message names it)."""


def _value(g: H5Group, key: str, where: str) -> np.ndarray:
    value = g.members.get(key)
    if value is None:
        raise _Bad(f"{where} has no '{key}'")
    if isinstance(value, H5Group):
        raise _Bad(f"{where}/{key} is a group, not a dataset")
    return np.asarray(value)


def _text(g: H5Group, key: str, where: str) -> str:
    v = _value(g, key, where)
    if v.ndim or v.dtype.kind not in "SUO" or not isinstance(v.item(), (bytes, str)):
        raise _Bad(f"{where}/{key} must be a string, got {v.dtype} {list(v.shape)}")
    item = v.item()
    return item.decode("utf-8", "replace") if isinstance(item, bytes) else item


def _numbers(g: H5Group, key: str, where: str, ndim: tuple[int, ...]) -> np.ndarray:
    v = _value(g, key, where)
    if v.dtype.kind not in "biuf" or v.ndim not in ndim:
        raise _Bad(f"{where}/{key} must be {ndim[-1]}-D real numbers, got {v.dtype} {v.shape}")
    if not np.isfinite(v.astype(np.float64)).all() or np.abs(v).max(initial=0) > MAX_MANTISSA:
        raise _Bad(f"{where}/{key} holds NaN, Inf or values beyond 2^24")
    return v


def _ints(
    g: H5Group, key: str, where: str, low: int, default: int | None = None
) -> tuple[int, ...]:
    if key not in g.members and default is not None:
        return (default,)
    v = _numbers(g, key, where, (0, 1))
    if v.size == 0 or np.any(v != np.round(v)) or v.min() < low:
        raise _Bad(f"{where}/{key} must hold integers >= {low}, got {v.tolist()}")
    return tuple(int(i) for i in v.reshape(-1))


def _neuron(g: H5Group, where: str, out: int) -> str:
    n = g.members.get("neuron")
    if not isinstance(n, H5Group):
        raise _Bad(f"{where} has no neuron group")
    kind = _text(n, "type", f"{where}/neuron")
    if kind not in NEURONS:
        raise _Bad(f"{where}/neuron/type is {kind[:20]!r}; NetX neurons are {', '.join(NEURONS)}")
    for key in ("vThMant", "iDecay", "vDecay"):
        if key in n.members and _numbers(n, key, f"{where}/neuron", (0, 1)).min(initial=0) < 0:
            raise _Bad(f"{where}/neuron/{key} must be >= 0")
    if "bias" in g.members and _numbers(g, "bias", where, (1,)).shape != (out,):
        raise _Bad(f"{where}/bias must hold {out} values")
    return kind


def _synapse(g: H5Group, kind: str, where: str, prev: tuple[int, ...]) -> NetxLayer:
    shape = _ints(g, "shape", where, 1)
    w = _numbers(g, "weight", where, (2,) if kind == "dense" else (4,))
    groups = _ints(g, "groups", where, 1, 1)[0]
    stride = _ints(g, "stride", where, 1, 1)
    if kind == "dense" and (shape != (w.shape[0],) or w.shape[1] != math.prod(prev)):
        raise _Bad(f"{where}: weight {list(w.shape)} does not map {list(prev)} to {list(shape)}")
    if kind == "conv":
        fits = len(prev) == 3 and prev[0] == w.shape[1] * groups and w.shape[0] % groups == 0
        if not fits or len(shape) != 3 or shape[0] != w.shape[0] or 0 in w.shape:
            raise _Bad(
                f"{where}: conv weight {list(w.shape)} (groups {groups}) does not map "
                f"{list(prev)} to {list(shape)}"
            )
    index = int(where.rsplit("/", 1)[1])
    return NetxLayer(index, kind, shape, w, groups, stride, _neuron(g, where, shape[0]))


def _layers(f: H5Group) -> list[NetxLayer]:
    root = f.members.get("layer")
    if not isinstance(root, H5Group):
        raise _Bad("no 'layer' group, not a NetX network file")
    keys = sorted(root.members, key=lambda k: int(k) if k.isdecimal() else -1)
    if keys != [str(i) for i in range(len(keys))]:
        raise _Bad(f"layers must be numbered 0..n-1, found {keys[:8]}")
    rows: list[NetxLayer] = []
    prev: tuple[int, ...] = ()
    for k in keys:
        g, where = root.members[k], f"layer/{k}"
        if not isinstance(g, H5Group):
            raise _Bad(f"{where} is not a group")
        kind = _text(g, "type", where)
        if kind not in KINDS or (kind == "input") != (k == "0"):
            raise _Bad(f"{where}/type is {kind[:20]!r}; expected input first, then {KINDS[1:]}")
        if kind == "input":
            prev = _ints(g, "shape", where, 1)
        elif kind == "flatten":
            prev = (math.prod(prev),)
        else:
            rows.append(_synapse(g, kind, where, prev))
            prev = rows[-1].shape
    if not rows:
        raise _Bad("holds no dense or conv layer (an empty network)")
    return rows


def read_netx(path: str | os.PathLike[str]) -> list[NetxLayer]:
    """The synaptic layers of the NetX file at ``path``, checked (module docstring), read in
    a child process (:mod:`sjconvert.ir.isolate`)."""
    return isolated(_read, Path(path))


def _read(path: Path) -> list[NetxLayer]:
    tree = read_hdf5(path, "a readable NetX HDF5 file")
    try:
        return _layers(tree)
    except _Bad as exc:
        raise InputError(f"{path}: invalid NetX network: {exc}") from None
