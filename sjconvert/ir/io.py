"""The IR file format: one versioned HDF5 file (h5py), serialised generically over node fields.

Layout (``docs/ir_format.md``)::

    /                       attrs: format="sjconvert-ir", version=FORMAT_VERSION
    /<graph>                one group per graph ("graph" = main, "source" = the ANN it came from)
        attrs: outputs (JSON list), meta (JSON object), order (JSON list of node names)
        /nodes/<name>       attrs: op (class name), inputs (JSON list), shape (JSON list),
                            fields (JSON object of the non-array fields)
            <field>         one dataset per array field

Writing goes to a temporary file in the target folder, renamed into place when complete.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import InputError
from .graph import Graph, GraphError
from .nodes import NODE_TYPES

FORMAT = "sjconvert-ir"
FORMAT_VERSION = 1


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, tuple):
        return [_jsonable(x) for x in v]
    if v is None or isinstance(v, (bool, int, float, str, list, dict)):
        return v
    raise TypeError(f"cannot store a {type(v).__name__} in an IR file")


def _untuple(v: Any) -> Any:
    return tuple(_untuple(x) for x in v) if isinstance(v, list) else v


def _write_graph(group: h5py.Group, graph: Graph) -> None:
    group.attrs["outputs"] = json.dumps(list(graph.outputs))
    group.attrs["meta"] = json.dumps(dict(graph.meta), default=_jsonable)
    group.attrs["order"] = json.dumps(list(graph.nodes))
    nodes = group.create_group("nodes")
    for name, node in graph:
        g = nodes.create_group(name.replace("/", "|"))
        g.attrs["op"] = node.op
        g.attrs["inputs"] = json.dumps(list(graph.edges[name]))
        g.attrs["shape"] = json.dumps(list(graph.shapes.get(name, ())))
        plain = {}
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if isinstance(value, np.ndarray):
                g.create_dataset(f.name, data=value)
            else:
                plain[f.name] = _jsonable(value)
        g.attrs["fields"] = json.dumps(plain)


def _read_graph(group: h5py.Group, path: Path) -> Graph:
    nodes, edges, shapes = {}, {}, {}
    for name in json.loads(group.attrs["order"]):
        g = group["nodes"][name.replace("/", "|")]
        op = str(g.attrs["op"])
        cls = NODE_TYPES.get(op)
        if cls is None:
            raise InputError(f"{path}: node '{name}' has unknown op '{op}'")
        kwargs = {k: _untuple(v) for k, v in json.loads(g.attrs["fields"]).items()}
        kwargs.update({k: np.asarray(g[k]) for k in g})
        try:
            nodes[name] = cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise InputError(f"{path}: node '{name}' ({op}) is invalid: {exc}") from None
        edges[name] = tuple(json.loads(g.attrs["inputs"]))
        shape = tuple(json.loads(g.attrs["shape"]))
        if shape:  # [] = not recorded (per-sample shapes are never empty)
            shapes[name] = shape
    outputs = tuple(json.loads(group.attrs["outputs"]))
    return Graph(nodes, edges, outputs, shapes, json.loads(group.attrs["meta"]))


def atomic_write(path: str | os.PathLike[str], write: Any, suffix: str = "") -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it into place;
    on any error the temporary file is removed and ``path`` is untouched."""
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise InputError(f"{path}: folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save(path: str | os.PathLike[str], graph: Graph, source: Graph | None = None) -> Path:
    """Write ``graph`` (and optionally the ANN ``source`` it was converted from) to ``path``."""

    def write(tmp: Path) -> None:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["version"] = FORMAT_VERSION
            _write_graph(f.create_group("graph"), graph)
            if source is not None:
                _write_graph(f.create_group("source"), source)

    return atomic_write(path, write)


def load(path: str | os.PathLike[str], which: str = "graph") -> Graph:
    """Read a graph from an IR file; ``which`` is "graph" (main) or "source"."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        f = h5py.File(path, "r")
    except OSError:
        raise InputError(f"{path}: not an sjconvert IR file (not HDF5)") from None
    with f:
        if f.attrs.get("format") != FORMAT:
            raise InputError(f"{path}: not an sjconvert IR file (format attribute missing)")
        version = int(f.attrs.get("version", -1))
        if version > FORMAT_VERSION:
            raise InputError(
                f"{path}: IR format version {version} is newer than this sjconvert reads "
                f"({FORMAT_VERSION}); upgrade sjconvert"
            )
        if which not in f:
            raise InputError(f"{path}: holds no '{which}' graph")
        try:
            return _read_graph(f[which], path)
        except (KeyError, json.JSONDecodeError, GraphError) as exc:
            raise InputError(f"{path}: corrupt IR file ({exc})") from None


def is_ir_file(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is an HDF5 file carrying the sjconvert IR format tag."""
    try:
        if not h5py.is_hdf5(path):
            return False
        with h5py.File(path, "r") as f:
            return f.attrs.get("format") == FORMAT
    except OSError:
        return False


def load_source(path: str | os.PathLike[str]) -> Graph | None:
    """The ANN stored beside a converted graph, or None when the file holds none."""
    if not is_ir_file(path):
        load(path)  # raises the clear error for a missing or foreign file
    with h5py.File(path, "r") as f:
        present = "source" in f
    return load(path, "source") if present else None
