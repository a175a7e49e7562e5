"""The IR file format: one versioned HDF5 file (h5py), serialised generically over node fields.

Layout (``docs/ir_format.md``)::

    /                       attrs: format="sjconvert-ir", version=FORMAT_VERSION
    /<graph>                one group per graph ("graph" = main, "source" = the ANN it came from)
        attrs: outputs (JSON list), meta (JSON object), order (JSON list of node names)
        /nodes/<name>       attrs: op (class name), inputs (JSON list), shape (JSON list),
                            fields (JSON object of the non-array fields)
            <field>         one dataset per array field

Reading checks the whole file before anything uses it: nothing outside the file is read
(:mod:`.hdf5`), the version is one this reader knows, every value has the type and range
its node field needs (:mod:`.schema`) and the graph's references and recorded shapes fit
(:class:`~.graph.Graph`). Writing goes through :func:`~.files.atomic_write`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import InputError
from .files import atomic_write
from .graph import Graph, GraphError
from .hdf5 import H5Group, attr, read_hdf5
from .isolate import isolated
from .nodes import NODE_TYPES, Input, Node
from .schema import SchemaError, check_fields, check_meta, check_shape, names, parse_json

FORMAT = "sjconvert-ir"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "atomic_write",
    "is_ir_file",
    "load",
    "load_source",
    "load_with_source",
    "save",
]


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


def _node(nodes: H5Group, name: str) -> tuple[Node, tuple[str, ...], tuple]:
    """One node of a graph group: (node, input names, recorded shape)."""
    g = nodes.members.get(name.replace("/", "|"))
    if not isinstance(g, H5Group):
        raise SchemaError(f"node '{name}' is listed in 'order' but has no group")
    op = attr(g, "op")
    cls = NODE_TYPES.get(op) if isinstance(op, str) else None
    if cls is None:
        raise SchemaError(f"node '{name}' has unknown op {str(op)[:40]!r}")
    fields = parse_json(attr(g, "fields"), dict, f"node '{name}' fields")
    if any(isinstance(v, H5Group) for v in g.members.values()):
        raise SchemaError(f"node '{name}' holds a group where datasets belong")
    arrays = {k: np.asarray(v) for k, v in g.members.items()}
    try:
        check_fields(cls, fields, arrays)
        node = cls(**{k: _untuple(v) for k, v in fields.items()}, **arrays)
    except (TypeError, ValueError, OverflowError) as exc:
        raise SchemaError(f"node '{name}' ({op}): {exc}") from None
    ins = names(parse_json(attr(g, "inputs"), list, f"node '{name}' inputs"), "inputs")
    shape = check_shape(parse_json(attr(g, "shape"), list, f"node '{name}' shape"))
    if isinstance(node, Input) and shape and shape != node.shape:
        raise SchemaError(f"input '{name}' records shape {list(shape)} but takes {node.shape}")
    return node, ins, shape


def _read_graph(group: H5Group) -> Graph:
    """A graph group, every value checked (:mod:`.schema`) before a node is built from it."""
    order = names(parse_json(attr(group, "order"), list, "order"), "order")
    if len(set(order)) != len(order):
        raise SchemaError("order names a node twice")
    nodes_group = group.members.get("nodes")
    if not isinstance(nodes_group, H5Group):
        raise SchemaError("the graph has no 'nodes' group")
    nodes, edges, shapes = {}, {}, {}
    for name in order:
        nodes[name], edges[name], shape = _node(nodes_group, name)
        if shape:  # [] = not recorded (per-sample shapes are never empty)
            shapes[name] = shape
    outputs = names(parse_json(attr(group, "outputs"), list, "outputs"), "outputs")
    meta = parse_json(attr(group, "meta"), dict, "meta")
    check_meta(meta)
    return Graph(nodes, edges, outputs, shapes, meta)


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


def _check_version(root: H5Group, path: Path) -> None:
    """Refuse a file whose ``version`` is missing, not an integer, or not one we read."""
    supported = ", ".join(map(str, SUPPORTED_VERSIONS))
    value = attr(root, "version")
    if not isinstance(value, int) or isinstance(value, bool):
        shown = "missing" if value is None else repr(value)[:40]
        raise InputError(
            f"{path}: IR format version is {shown}; this sjconvert reads version {supported}"
        )
    if value > FORMAT_VERSION:
        raise InputError(
            f"{path}: IR format version {value} is newer than this sjconvert reads "
            f"({supported}); upgrade sjconvert"
        )
    if value not in SUPPORTED_VERSIONS:
        raise InputError(
            f"{path}: IR format version {value} is not supported; this sjconvert reads "
            f"version {supported}"
        )


def _read_ir(path: Path) -> H5Group:
    """The file as a tree, after its format tag and version are checked."""
    root = read_hdf5(path, "an sjconvert IR file")
    if attr(root, "format") != FORMAT:
        raise InputError(f"{path}: not an sjconvert IR file (format attribute missing)")
    _check_version(root, path)
    return root


def _graph(root: H5Group, path: Path, which: str) -> Graph:
    group = root.members.get(which)
    if not isinstance(group, H5Group):
        raise InputError(f"{path}: holds no '{which}' graph")
    try:
        return _read_graph(group)
    except (SchemaError, GraphError) as exc:
        raise InputError(f"{path}: invalid IR file: {exc}") from None


def _load(path: Path, which: str) -> Graph:
    return _graph(_read_ir(path), path, which)


def _load_pair(path: Path) -> tuple[Graph, Graph | None]:
    root = _read_ir(path)
    source = _graph(root, path, "source") if "source" in root.members else None
    return _graph(root, path, "graph"), source


def load(path: str | os.PathLike[str], which: str = "graph") -> Graph:
    """Read a graph from an IR file; ``which`` is "graph" (main) or "source". The whole
    file is checked first (:mod:`.hdf5`: nothing outside it is read), then every value
    before it is used (:mod:`.schema`); any problem is one :class:`InputError` naming the
    file. The reading runs in the reader process (:mod:`.isolate`)."""
    return isolated(_load, Path(path), which)


def load_with_source(path: str | os.PathLike[str]) -> tuple[Graph, Graph | None]:
    """``(graph, source ANN or None)`` of an IR file, read once (see :func:`load`)."""
    return isolated(_load_pair, Path(path))


def is_ir_file(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a regular file starting with the HDF5 signature: the only HDF5
    files sjconvert takes as a model are IR files, so :func:`load` names any other kind.
    Only the signature is read (parsing HDF5 happens in :func:`load`'s reader process); a
    FIFO or device is not opened at all."""
    try:
        if not Path(path).is_file():
            return False
        with open(path, "rb") as f:
            return f.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE
    except OSError:
        return False


def load_source(path: str | os.PathLike[str]) -> Graph | None:
    """The ANN stored beside a converted graph, or None when the file holds none."""
    return load_with_source(path)[1]
