"""Validation of data, weights and ONNX files before use: each bad input is one InputError
naming the problem (and the CLI prints it in one line with exit code 2)."""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sjconvert.cli.main import app
from sjconvert.errors import InputError
from sjconvert.frontends.loading import load_data, load_model
from sjconvert.ir import Graph, save
from sjconvert.ir import nodes as ir

X = np.random.default_rng(0).uniform(0, 1, (6, 4)).astype(np.float32)
Y = np.arange(6) % 3


def _npz(tmp_path: Path, **arrays: object) -> str:
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return str(path)


@pytest.mark.parametrize(
    ("x", "named"),
    [
        (X.astype(np.complex64), "complex numbers"),
        (np.full((6, 4), 1e300), "beyond float32"),
        (np.full((6, 4), np.nan), "NaN or Inf"),
        (np.array([b"a", b"b"]), "not a numeric array"),
        (np.zeros((0, 4), np.float32), "is empty"),
        (np.ones(6, np.float32), "no batch axis"),
    ],
)
def test_bad_inputs_are_refused(tmp_path: Path, x: np.ndarray, named: str) -> None:
    with pytest.raises(InputError, match="'x'") as err:
        load_data(_npz(tmp_path, x=x))
    assert named in str(err.value)


@pytest.mark.parametrize(
    ("y", "named"),
    [
        (np.full(6, math.nan), "holds nan"),
        (np.full(6, 0.5), "holds 0.5"),
        (np.full(6, -1), "holds -1"),
        (np.ones(6, bool), "booleans"),
        (np.ones((6, 2, 2)), "has shape [6, 2, 2]"),
        (np.ones(5, np.int64), "'x' has 6 samples but 'y' has 5"),
    ],
)
def test_bad_labels_are_refused_naming_the_problem(
    tmp_path: Path, y: np.ndarray, named: str
) -> None:
    with pytest.raises(InputError) as err:
        load_data(_npz(tmp_path, x=X, y=y))
    assert named in str(err.value)


def test_good_label_forms_are_accepted(tmp_path: Path) -> None:
    for y in (Y, Y.astype(np.float64), np.eye(3)[Y], Y[:, None]):
        batches = list(load_data(_npz(tmp_path, x=X, y=y)))
        assert torch.equal(batches[0].y, torch.from_numpy(Y))


def test_a_label_beyond_the_models_classes_is_refused(tmp_path: Path) -> None:
    r = np.random.default_rng(1)
    nodes = {"x": ir.Input((4,)), "l": ir.Linear(r.normal(size=(3, 4)), None), "r": ir.Readout()}
    model = save(tmp_path / "m.sjir", Graph(nodes, {"x": (), "l": ("x",), "r": ("l",)}, ("r",)))
    data = _npz(tmp_path, x=X, y=np.full(6, 99))
    res = CliRunner().invoke(app, ["simulate", str(model), "--data", data, "-T", "2"])
    assert res.exit_code == 2, res.output
    assert "label 99 is not a class of the model, which has 3" in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_pickled_objects_in_pt_data_are_one_clean_line(tmp_path: Path) -> None:
    path = tmp_path / "d.pt"
    torch.save({"x": torch.ones(2, 3), "extra": zipfile.ZipInfo("a")}, path)
    with pytest.raises(InputError, match=r"pickled Python objects.*pass --trust"):
        load_data(str(path))


def test_empty_and_crafted_npz_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    res = CliRunner().invoke(app, ["simulate", "m.sjir", "--data", str(empty)])
    assert res.exit_code == 2 and "Aborted" not in res.output
    with pytest.raises(InputError, match=r"not a readable \.npz"):
        load_data(str(empty))
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }"
    header = header.ljust(118) + "\n"
    body = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()
    huge = tmp_path / "huge.npz"
    with zipfile.ZipFile(huge, "w") as z:
        z.writestr("x.npy", body + bytes(16))
    with pytest.raises(InputError, match="declares shape \\[1000000, 1000000\\]"):
        load_data(str(huge))
    objects = tmp_path / "objects.npz"
    np.savez(objects, x=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(InputError, match="holds Python objects"):
        load_data(str(objects))


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda s: s.update({"fc.weight": s["fc.weight"].to(torch.complex64)}), "complex"),
        (lambda s: s["fc.bias"].fill_(math.nan), "'fc.bias' holds NaN or Inf"),
        (lambda s: s.update({"fc.weight": 3}), "'fc.weight' holds a int, not a tensor"),
    ],
)
def test_bad_state_dicts_are_refused_by_key(tmp_path: Path, change, named: str) -> None:
    from tests.fuzz.models import Tiny

    state = Tiny().state_dict()
    change(state)
    path = tmp_path / "sd.pt"
    torch.save(state, path)
    with pytest.raises(InputError) as err:
        load_model(path, arch="tests.fuzz.models:Tiny")
    assert named in str(err.value)
