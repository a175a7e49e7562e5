"""Reading IR files for commands: the reader's own checks (:func:`sjconvert.ir.io.load`:
containment, version, types, references), then the recorded shapes against what the nodes
compute, so a file whose layers do not fit together is refused before anything runs."""

from __future__ import annotations

import os

from ..errors import InputError
from ..exec.shapes import checked_shapes
from ..ir.graph import Graph, GraphError
from ..ir.io import load, load_with_source


def _checked(graph: Graph, path: str | os.PathLike[str]) -> Graph:
    try:
        return checked_shapes(graph)
    except (GraphError, InputError) as exc:
        raise InputError(f"{path}: invalid IR file: {exc}") from None


def read_ir(path: str | os.PathLike[str], which: str = "graph") -> Graph:
    """The ``which`` graph ("graph" or "source") of the IR file at ``path``, checked."""
    return _checked(load(path, which), path)


def read_with_source(path: str | os.PathLike[str]) -> tuple[Graph, Graph | None]:
    """``(graph, source ANN or None)`` of the IR file at ``path``, both checked."""
    graph, source = load_with_source(path)
    return _checked(graph, path), None if source is None else _checked(source, path)
