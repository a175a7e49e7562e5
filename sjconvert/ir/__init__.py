"""The typed graph IR: nodes with their traits, the graph, one graph walker, the file format."""

from . import nodes, walk
from .graph import Graph, GraphEditor, GraphError
from .io import load, save

__all__ = ["Graph", "GraphEditor", "GraphError", "load", "nodes", "save", "walk"]
