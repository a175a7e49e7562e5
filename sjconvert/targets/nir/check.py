"""The validation step for ``.nir`` files: :func:`read_nir` reads and checks one, and the
importer (:mod:`.reader`) works only on the graph it returns.

* The HDF5 file is read through :func:`sjconvert.ir.hdf5.read_hdf5`, so nothing outside
  it is read (``nir.read`` would follow external links and external storage) and whatever
  libhdf5 raises on damaged bytes is one line.
* The tree is parsed by NIR's own ``dict2NIRNode``, with type checking of every edge; any
  exception NIR raises on malformed content becomes one :class:`InputError`.
* Every parameter array holds real, finite numbers (complex and object arrays refused),
  time constants are positive, and the sjconvert facts in node metadata (JSON) have the
  types the importer reads.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

import nir
import numpy as np

from ...errors import InputError, UnsupportedOpError
from ...ir.hdf5 import H5Group, read_hdf5
from ...ir.isolate import isolated
from .convention import DT
from .emitters import META_KEY

POSITIVE = {"tau": 0.0, "tau_mem": 0.0, "tau_syn": 0.0}  # time constants (s)
FACT_TYPES: dict[str, tuple[type, ...]] = {
    "dt": (float, int),
    "tau": (float, int),
    "decay": (float, int, type(None)),
    "c_decay": (float, int),
    "v_decay": (float, int),
    "decay_input": (bool,),
    "avgpool": (bool,),
    "bias": (bool,),
    "groups": (int,),
    "adds": (dict,),
}


class NirFileError(ValueError):
    """Content of a NIR file that is not a valid NIR graph (the message names it)."""


def _plain(group: H5Group) -> dict[str, Any]:
    """The group as NIR's ``hdf2dict`` builds it (bytes decoded to text)."""
    out: dict[str, Any] = {}
    for key, value in group.members.items():
        if isinstance(value, H5Group):
            out[key] = _plain(value)
        else:
            out[key] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return out


def _check_array(value: Any, where: str) -> None:
    arr = np.asarray(value) if isinstance(value, (np.ndarray, np.generic)) else None
    if arr is None or arr.dtype.kind in "USb":
        return
    if arr.dtype.kind not in "iuf":
        raise NirFileError(f"{where} holds {arr.dtype} values, not real numbers")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise NirFileError(f"{where} holds NaN or Inf")


def _check_node(node: nir.NIRNode, where: str) -> None:
    """Every parameter of ``node`` (and of the nodes of a sub-graph) real and finite."""
    if isinstance(node, nir.NIRGraph):
        for name, sub in node.nodes.items():
            _check_node(sub, f"node '{name}'")
        return
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        values = value.items() if isinstance(value, dict) and f.name != "metadata" else []
        for key, v in [(f.name, value), *values]:
            _check_array(v, f"{where} {key}")
        low = POSITIVE.get(f.name)
        if low is not None and np.any(np.asarray(value, np.float64) <= low):
            raise NirFileError(f"{where} {f.name} must be > {low:g}")
    facts(node)


def facts(node: nir.NIRNode) -> dict[str, Any]:
    """The sjconvert facts stored in a node's metadata (``{}`` when none), type-checked."""
    text = (getattr(node, "metadata", None) or {}).get(META_KEY)
    if text is None:
        return {}
    try:
        value = json.loads(text) if isinstance(text, (str, bytes)) else None
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise NirFileError(f"metadata '{META_KEY}' is not a JSON object")
    for key, want in FACT_TYPES.items():
        v = value.get(key)
        if key in value and (not isinstance(v, want) or (bool not in want and isinstance(v, bool))):
            raise NirFileError(f"metadata '{META_KEY}' {key!r} = {str(v)[:40]} has a wrong type")
        if isinstance(v, float) and not math.isfinite(v):
            raise NirFileError(f"metadata '{META_KEY}' {key!r} is not finite")
    adds = value.get("adds", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in adds.items()):
        raise NirFileError(f"metadata '{META_KEY}' 'adds' must map node names to names")
    return value


def read_nir(path: str | os.PathLike[str]) -> nir.NIRGraph:
    """The NIR graph in the ``.nir`` file at ``path``, checked (see the module docstring),
    read in a child process (:mod:`sjconvert.ir.isolate`)."""
    return isolated(_read, Path(path))


def _read(path: Path) -> nir.NIRGraph:
    root = read_hdf5(path, "a readable NIR file").members.get("node")
    if not isinstance(root, H5Group):
        raise InputError(f"{path}: not a readable NIR file (no 'node' group)")
    data = _plain(root)
    if not isinstance(data.get("type"), str) or "type_check" in data:
        raise InputError(f"{path}: not a readable NIR file (no node type)")
    try:
        graph = nir.dict2NIRNode({**data, "type_check": True})
    except Exception as exc:  # NIR's parser raises anything from KeyError to numpy errors
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise InputError(f"{path}: not a valid NIR graph ({type(exc).__name__}: {first})") from None
    if not isinstance(graph, nir.NIRGraph):
        raise InputError(f"{path}: holds one {type(graph).__name__} node, not a NIR graph")
    try:
        _check_node(graph, "graph")
    except NirFileError as exc:
        raise InputError(f"{path}: invalid NIR file: {exc}") from None
    return graph


def topological_order(graph: nir.NIRGraph) -> list[str]:
    """Node names in an order where every edge goes forward (recurrent graphs refused)."""
    preds: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for src, dst in graph.edges:
        for end in (src, dst):
            if end not in preds:
                raise InputError(f"NIR edge ({src!r}, {dst!r}) names an unknown node")
        preds[dst].append(src)
    try:
        return list(TopologicalSorter(preds).static_order())
    except CycleError as exc:
        raise UnsupportedOpError(
            f"NIR graph is recurrent (cycle {exc.args[1]}); the IR is feed-forward"
        ) from None


def time_step(dt: float | None, top: dict[str, Any]) -> float:
    """Seconds per step: ``dt`` as given, else the exporter's, else :data:`DT`."""
    value = float(dt or top.get("dt") or DT)
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"the NIR time step dt must be a positive number, got {value}")
    return value
