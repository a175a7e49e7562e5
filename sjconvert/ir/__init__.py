"""The typed graph IR: nodes, graph, capture from torch.fx, and the file format."""

from . import nodes
from .capture import capture
from .graph import Graph, GraphEditor
from .io import load, save

__all__ = ["Graph", "GraphEditor", "capture", "load", "nodes", "save"]
