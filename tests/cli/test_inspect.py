"""``inspect`` reads and validates the whole IR file, as every other command does."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from sjconvert.cli.main import app
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph
from sjconvert.ir.io import save


def _file(path: Path) -> Path:
    r = np.random.default_rng(0)
    ann = Graph(
        {"x": ir.Input((4,)), "l": ir.Linear(r.normal(size=(3, 4)), None), "r": ir.ReLU()},
        {"x": (), "l": ("x",), "r": ("l",)},
        ("r",),
    )
    snn = Graph(
        {"x": ir.Input((4,)), "l": ir.Linear(r.normal(size=(3, 4)), None), "n": ir.IF(1.0)},
        {"x": (), "l": ("x",), "n": ("l",)},
        ("n",),
    )
    return save(path, snn, source=ann)


def _damage(path: Path, how: str) -> None:
    with h5py.File(path, "r+") as f:
        node = f["graph/nodes/n"] if how == "threshold" else f["graph/nodes/l"]
        if how == "threshold":
            fields = json.loads(node.attrs["fields"])
            node.attrs["fields"] = json.dumps(fields | {"v_threshold": -1.0})
        else:
            w = node["weight"][...]
            del node["weight"]
            text = np.array([str(v) for v in w.ravel()], dtype=object).reshape(w.shape)
            node.create_dataset("weight", data=text, dtype=h5py.string_dtype())


@pytest.mark.parametrize(
    ("how", "named"),
    [("threshold", "v_threshold must be > 0"), ("object", "holds object values")],
)
@pytest.mark.parametrize("source", [False, True])
def test_inspect_refuses_what_every_command_refuses(
    tmp_path: Path, how: str, named: str, source: bool
) -> None:
    path = _file(tmp_path / "m.sjir")
    assert CliRunner().invoke(app, ["inspect", str(path)]).exit_code == 0
    _damage(path, how)
    args = ["inspect", str(path), *(["--source"] if source else [])]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output
    assert len(res.output.strip().splitlines()) == 1 and named in res.output
    sim = CliRunner().invoke(app, ["simulate", str(path), "--data", "d.npz"])
    assert sim.exit_code == 2 and named in sim.output  # the same refusal


def test_inspect_source_of_a_file_without_one(tmp_path: Path) -> None:
    path = tmp_path / "g.sjir"
    save(path, Graph({"x": ir.Input((2,)), "r": ir.ReLU()}, {"x": (), "r": ("x",)}, ("r",)))
    res = CliRunner().invoke(app, ["inspect", str(path), "--source"])
    assert res.exit_code == 2 and "holds no source ANN" in res.output
