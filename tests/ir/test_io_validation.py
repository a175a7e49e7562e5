"""The IR reader refuses invalid files by name: versions, value types, references,
thresholds, channels that do not match, recorded shapes that are wrong."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from sjconvert.api import read_ir
from sjconvert.errors import InputError
from sjconvert.exec.shapes import with_shapes
from sjconvert.ir import Graph, load, save
from sjconvert.ir import nodes as ir

Edit = Callable[[h5py.File], None]


def _graph() -> Graph:
    r = np.random.default_rng(0)
    parts: list[tuple[str, ir.Node, tuple[str, ...]]] = [
        ("x", ir.Input((2, 6, 6)), ()),
        ("conv", ir.Conv2d(r.normal(size=(4, 2, 3, 3)), r.normal(size=4), 1, 1), ("x",)),
        ("if1", ir.IF(np.array([1.0, 0.5, 2.0, 1.0]), None, 0.0), ("conv",)),
        ("flat", ir.Flatten(), ("if1",)),
        ("fc", ir.Linear(r.normal(size=(3, 144)), None), ("flat",)),
        ("out", ir.Readout(), ("fc",)),
    ]
    g = Graph({n: v for n, v, _ in parts}, {n: i for n, _, i in parts}, ("out",))
    return with_shapes(g)


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return save(tmp_path / "g.sjir", _graph())


def _edit(path: Path, edit: Edit) -> Path:
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


def _set_json(key: str, node: str, change: Callable[[object], object]) -> Edit:
    def edit(f: h5py.File) -> None:
        attrs = f[f"graph/nodes/{node}"].attrs if node else f["graph"].attrs
        attrs[key] = json.dumps(change(json.loads(attrs[key])))

    return edit


def _field(node: str, name: str, value: object) -> Edit:
    return _set_json("fields", node, lambda v: {**v, name: value})  # type: ignore[dict-item]


def _scalar_threshold(value: float) -> Edit:
    def edit(f: h5py.File) -> None:
        del f["graph/nodes/if1/v_threshold"]
        _field("if1", "v_threshold", value)(f)

    return edit


def _dataset(node: str, name: str, value: np.ndarray) -> Edit:
    def edit(f: h5py.File) -> None:
        del f[f"graph/nodes/{node}/{name}"]
        f[f"graph/nodes/{node}/{name}"] = value

    return edit


@pytest.mark.parametrize(
    ("version", "named"),
    [
        (0, "version 0 is not supported"),
        (-1, "version -1"),
        ("1", "version is '1'"),
        (1.0, "version is 1.0"),
        (True, "version is True"),
        (None, "version is missing"),
        (2, "newer than this sjconvert reads (1)"),
    ],
)
def test_unknown_versions_are_refused_naming_the_supported_one(
    good: Path, version: object, named: str
) -> None:
    def edit(f: h5py.File) -> None:
        if version is None:
            del f.attrs["version"]
        else:
            f.attrs["version"] = version

    _edit(good, edit)
    with pytest.raises(InputError, match=r"reads version 1|reads \(1\)") as err:
        load(good)
    assert named in str(err.value)


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (_dataset("fc", "weight", np.array([[b"1.0", b"2.0"]])), "holds |S3 values"),
        (_field("fc", "weight", [["1", "2"]]), "'weight' = [['1', '2']] is not a valid"),
        (_set_json("inputs", "fc", lambda v: ["ghost"]), "reads ['ghost']"),
        (_set_json("outputs", "", lambda v: ["ghost"]), "outputs ['ghost']"),
        (_scalar_threshold(-1.0), "v_threshold must be > 0"),
        (_dataset("if1", "v_threshold", np.array([1.0, -0.5, 1.0, 1.0])), "must be > 0"),
        (_field("conv", "stride", "ab"), "'stride' = 'ab'"),
        (_field("conv", "groups", 1.5), "'groups' = 1.5"),
        (_field("conv", "groups", True), "'groups' = True"),
        (_field("out", "colour", 1), "unknown field 'colour'"),
        (_field("if1", "v_reset", float("nan")), "'v_reset' = nan"),
        (_dataset("fc", "weight", np.ones((3, 144), np.complex64)), "complex64 values"),
        (_dataset("conv", "weight", np.ones((4, 2, 9, 9))), "kernel [9, 9] (dilation [1, 1])"),
        (_set_json("order", "", lambda v: [*v, "out"]), "names a node twice"),
        (_set_json("shape", "x", lambda v: [3, 6, 6]), "records shape [3, 6, 6] but takes"),
        (_set_json("shape", "fc", lambda v: [-2]), "not a list of positive integers"),
        (_set_json("meta", "", lambda v: {"source": 3}), "meta 'source'"),
        (_set_json("meta", "", lambda v: {"normalisation": {"lambda": {"fc": []}}}), "λ"),
        (lambda f: f["graph"].attrs.__setitem__("order", "{"), "order is not valid JSON"),
        (lambda f: f["graph/nodes/fc"].attrs.__setitem__("op", "Nope"), "unknown op 'Nope'"),
    ],
)
def test_invalid_values_are_refused_by_name(good: Path, edit: Edit, named: str) -> None:
    _edit(good, edit)
    with pytest.raises(InputError, match="invalid IR file") as err:
        load(good)
    assert named in str(err.value)
    assert str(good) in str(err.value)


def test_channels_that_do_not_match_are_refused(good: Path) -> None:
    """A convolution whose input channels do not fit: caught from the recorded shapes, and
    by shape inference when the file records none."""
    w = np.ones((4, 3, 3, 3), np.float32)  # 3 input channels, the input has 2
    _edit(good, _dataset("conv", "weight", w))
    with pytest.raises(InputError, match="Conv2d takes \\[3, H, W\\] inputs"):
        load(good)
    for name in ("x", "conv", "if1", "flat", "fc", "out"):
        _edit(good, _set_json("shape", name, lambda v: []))
    assert load(good).shapes == {}  # nothing recorded: the file reader cannot tell ...
    with pytest.raises(InputError, match="Conv2d takes \\[3, H, W\\] inputs"):
        read_ir(good)  # ... the command reader infers the shapes and can


def test_recorded_shapes_must_be_what_the_nodes_compute(good: Path) -> None:
    _edit(good, _set_json("shape", "conv", lambda v: [4, 5, 5]))
    _edit(good, _set_json("shape", "if1", lambda v: [4, 5, 5]))
    _edit(good, _set_json("shape", "flat", lambda v: [100]))
    _edit(good, _dataset("fc", "weight", np.ones((3, 100), np.float32)))
    assert load(good).shapes["conv"] == (4, 5, 5)  # consistent edge by edge
    with pytest.raises(InputError, match="'conv' records shape \\[4, 5, 5\\] but computes"):
        read_ir(good)


def test_a_valid_file_round_trips(good: Path) -> None:
    g = read_ir(good)
    assert list(g.nodes) == ["x", "conv", "if1", "flat", "fc", "out"]
    assert g.shapes["fc"] == (3,)
