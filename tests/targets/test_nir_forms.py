"""Grouped and depthwise convolutions export to NIR graphs that NIR's own type inference
accepts (written dense, grouped again on import), and padded max pools map to NIR."""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest
import torch

from sjconvert.exec import Simulator
from sjconvert.exec.shapes import with_shapes
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph
from sjconvert.targets.nir import read, to_nir, write
from sjconvert.targets.nir.convention import dense_groups, grouped

CASES = {  # (in channels, out channels, groups): depthwise, multiplier 2, two groups
    "depthwise": (4, 4, 4),
    "depthwise x2": (4, 8, 4),
    "grouped": (4, 6, 2),
}


def _graph(cin: int, cout: int, groups: int, dims: int) -> Graph:
    r = np.random.default_rng(0)
    spatial = (6, 6) if dims == 2 else (6,)
    conv = ir.Conv2d if dims == 2 else ir.Conv1d
    k = (3,) * dims
    nodes = {
        "x": ir.Input((cin, *spatial)),
        "c": conv(r.normal(size=(cout, cin // groups, *k)), r.normal(size=cout), 1, 1, 1, groups),
        "n": ir.IF(0.5, 0.0, 0.0),
        "f": ir.Flatten(1, -1),
        "l": ir.Linear(r.normal(size=(3, cout * int(np.prod(spatial)))), None),
        "o": ir.Readout(),
    }
    edges = {"x": (), "c": ("x",), "n": ("c",), "f": ("n",), "l": ("f",), "o": ("l",)}
    return with_shapes(Graph(nodes, edges, ("o",)))


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("case", sorted(CASES))
def test_grouped_convolutions_pass_nirs_type_inference(
    tmp_path: Path, case: str, dims: int
) -> None:
    cin, cout, groups = CASES[case]
    graph = _graph(cin, cout, groups, dims)
    exported = to_nir(graph)
    exported.infer_types()
    assert exported.check_types()
    conv = exported.nodes["c"]
    assert list(conv.input_type["input"]) == [cin, *graph.shapes["x"][1:]]
    assert list(conv.output_type["output"]) == list(graph.shapes["c"])
    path = write(tmp_path / "g.nir", graph)
    assert nir.read(path, type_check=True).check_types()  # NIR's own reader takes it
    back = read(path)
    assert back.nodes["c"].groups == groups
    assert np.array_equal(back.nodes["c"].weight, graph.nodes["c"].weight)
    x = torch.rand(5, *graph.shapes["x"])
    assert torch.equal(Simulator(graph).run(x, T=6).output, Simulator(back).run(x, T=6).output)


def test_dense_groups_round_trip_and_refuse_a_dense_weight() -> None:
    w = np.random.default_rng(1).normal(size=(8, 2, 3, 3)).astype(np.float32)
    dense = dense_groups(w, 4)
    assert dense.shape == (8, 8, 3, 3) and np.array_equal(grouped(dense, 4, "c"), w)
    with pytest.raises(Exception, match="outside its 4 groups"):
        grouped(np.ones((8, 8, 3, 3), np.float32), 4, "c")


def test_a_padded_max_pool_maps_to_a_nir_average_pool() -> None:
    """maxpool-as-avgpool of a ResNet-style max pool (3, stride 2, padding 1)."""
    r = np.random.default_rng(2)
    nodes = {
        "x": ir.Input((2, 8, 8)),
        "c": ir.Conv2d(r.normal(size=(2, 2, 3, 3)), None, 1, 1),
        "n": ir.IF(1.0, 0.0, 0.0),
        "p": ir.MaxPool2d(3, 2, 1),
        "f": ir.Flatten(1, -1),
        "l": ir.Linear(r.normal(size=(3, 32)), None),
        "o": ir.Readout(),
    }
    edges = {"x": (), "c": ("x",), "n": ("c",), "p": ("n",), "f": ("p",), "l": ("f",)}
    graph = Graph(nodes, edges | {"o": ("l",)}, ("o",))
    exported = to_nir(graph, lossy=["maxpool-as-avgpool"])
    pool = exported.nodes["p"]
    assert isinstance(pool, nir.AvgPool2d) and list(pool.padding) == [1, 1]


def test_an_uneven_adaptive_pool_folds_into_the_linear_layer(tmp_path: Path) -> None:
    """VGG's 7x7 adaptive pool on a 2x2 map (cells repeated) before Flatten, Dropout and
    Linear has no NIR node; folded into the Linear it exports and computes the same."""
    r = np.random.default_rng(3)
    nodes = {
        "x": ir.Input((3, 2, 2)),
        "n": ir.IF(1.0, 0.0, 0.0),
        "p": ir.AdaptiveAvgPool2d((7, 7)),
        "f": ir.Flatten(1, -1),
        "d": ir.Dropout(0.5),
        "l": ir.Linear(r.normal(size=(4, 3 * 49)), r.normal(size=4)),
        "o": ir.Readout(),
    }
    edges = {"x": (), "n": ("x",), "p": ("n",), "f": ("p",), "d": ("f",), "l": ("d",)}
    graph = with_shapes(Graph(nodes, edges | {"o": ("l",)}, ("o",)))
    back = read(write(tmp_path / "a.nir", graph))
    assert "AdaptiveAvgPool2d" not in [node.op for _, node in back]
    assert back.nodes["l"].weight.shape == (4, 12)
    x = torch.rand(6, 3, 2, 2) * 2
    want = Simulator(graph).run(x, T=8).output
    assert torch.allclose(Simulator(back).run(x, T=8).output, want, atol=1e-5)
