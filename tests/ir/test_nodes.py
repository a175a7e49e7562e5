"""IR nodes: every class round-trips through the file format; invalid parameters raise."""

from __future__ import annotations

import numpy as np
import pytest

from sjconvert.errors import InputError
from sjconvert.ir import Graph, GraphError, load, save
from sjconvert.ir import nodes as ir
from tests.conftest import example_nodes


def test_examples_cover_every_node_class() -> None:
    assert set(example_nodes()) == set(ir.NODE_TYPES)


@pytest.mark.parametrize("op", sorted(ir.NODE_TYPES))
def test_round_trip_every_node_class(op: str, tmp_path) -> None:
    node = example_nodes()[op]
    nodes = {"x": ir.Input((4,))} if op != "Input" else {}
    nodes["n"] = node
    edges = {"x": (), "n": () if op == "Input" else ("x",) * (node.arity or 2)}
    if op == "Input":
        edges = {"n": ()}
    shapes = {"n": node.shape if op == "Input" else (4,)}  # an input records its own shape
    g = Graph(nodes, edges, ("n",), shapes, {"note": "ü", "lam": {"a": 1.5}})
    path = save(tmp_path / "g.sjir", g)
    back = load(path)
    assert back.meta == g.meta and back.outputs == g.outputs and back.edges == g.edges
    got = back.nodes["n"]
    assert type(got) is type(node)
    for key, value in node.params().items():
        other = got.params()[key]
        if isinstance(value, np.ndarray):
            assert other.dtype == np.float32 and np.array_equal(other, value)
        else:
            assert other == value, key


@pytest.mark.parametrize(
    "make",
    [
        lambda: ir.Linear(np.ones((2, 3)), np.ones(3)),
        lambda: ir.Conv2d(np.ones((4, 1, 3)), None),
        lambda: ir.Conv2d(np.ones((3, 1, 3, 3)), None, groups=2),
        lambda: ir.IF(v_threshold=0.0),
        lambda: ir.IF(v_threshold=np.array([1.0, -1.0])),
        lambda: ir.LIF(tau=0.5),
        lambda: ir.LIF(tau=2.0, decay=0.3),
        lambda: ir.Linear(np.array([[np.nan]])),
        lambda: ir.AvgPool2d(2, 2, 2),
        lambda: ir.Flatten(0),
        lambda: ir.Input(()),
        lambda: ir.Concat(0),
        lambda: ir.Transpose((1, 1)),
        lambda: ir.Slice(1, 3, 3),
        lambda: ir.MaxPool2d(3, 1, 2, 1),
        lambda: ir.AdaptiveAvgPool2d((0, 2)),
        lambda: ir.Linear(np.array([["a"]])),
        lambda: ir.Linear(np.array([[1e300]])),
        lambda: ir.IF(v_threshold=np.ones((2, 2))),
    ],
)
def test_invalid_parameters_raise_value_error(make) -> None:
    with pytest.raises(ValueError):
        make()


def test_nodes_are_immutable() -> None:
    node = ir.Linear(np.ones((2, 3)), None)
    with pytest.raises(AttributeError):
        node.weight = np.zeros((2, 3))  # type: ignore[misc]
    with pytest.raises(ValueError):
        node.weight[0, 0] = 5.0


def test_graph_rejects_bad_edges_and_shapes() -> None:
    with pytest.raises(GraphError, match="not defined before"):
        Graph({"r": ir.ReLU(), "x": ir.Input((2,))}, {"r": ("x",), "x": ()}, ("r",))
    with pytest.raises(GraphError, match="takes 1 inputs"):
        Graph({"x": ir.Input((2,)), "r": ir.ReLU()}, {"x": (), "r": ("x", "x")}, ("r",))
    conv = ir.Conv2d(np.ones((4, 3, 3, 3)), None)
    with pytest.raises(GraphError, match=r"'c' \(Conv2d\): Conv2d takes \[3, H, W\]"):
        Graph(
            {"x": ir.Input((2, 8, 8)), "c": conv},
            {"x": (), "c": ("x",)},
            ("c",),
            {"x": (2, 8, 8), "c": (4, 6, 6)},
        )
    with pytest.raises(GraphError, match="Add needs two or more inputs of one shape"):
        nodes = {"x": ir.Input((2,)), "y": ir.Input((3,)), "a": ir.Add()}
        Graph(nodes, {"x": (), "y": (), "a": ("x", "y")}, ("a",), {"x": (2,), "y": (3,)})


def test_load_rejects_other_files(tmp_path) -> None:
    bad = tmp_path / "bad.sjir"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(InputError, match="not an sjconvert IR file"):
        load(bad)
    with pytest.raises(InputError, match="no such file"):
        load(tmp_path / "missing.sjir")
    import h5py

    with h5py.File(tmp_path / "newer.sjir", "w") as f:
        f.attrs["format"] = "sjconvert-ir"
        f.attrs["version"] = 99
    with pytest.raises(InputError, match="newer"):
        load(tmp_path / "newer.sjir")


def test_failed_save_leaves_no_file(tmp_path) -> None:
    g = Graph({"x": ir.Input((2,))}, {"x": ()}, ("x",), meta={"bad": object()})
    with pytest.raises(TypeError):
        save(tmp_path / "g.sjir", g)
    assert list(tmp_path.iterdir()) == []
