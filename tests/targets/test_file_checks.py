"""The NetX and NIR validation steps: what ``fit`` and ``from-nir`` accepted before (1-D
weights, NaN thresholds, empty networks, zero time constants) is refused by name."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from sjconvert.cli.main import app
from sjconvert.errors import InputError
from sjconvert.ir import Graph
from sjconvert.ir import nodes as ir
from sjconvert.targets.lava.chip_fit import fit_report
from sjconvert.targets.nir import read, save, to_nir

runner = CliRunner()


def _netx(path: Path, edit: Callable[[h5py.File], None] | None = None) -> Path:
    with h5py.File(path, "w") as f:
        layers = f.create_group("layer")
        layers.create_group("0").create_dataset("type", data=np.bytes_("input"))
        layers["0"].create_dataset("shape", data=np.array([4]))
        g = layers.create_group("1")
        g.create_dataset("type", data=np.bytes_("dense"))
        g.create_dataset("shape", data=np.array([3]))
        g.create_dataset("weight", data=np.arange(12, dtype=np.float32).reshape(3, 4))
        n = g.create_group("neuron")
        n.create_dataset("type", data=np.bytes_("CUBA"))
        n.create_dataset("vThMant", data=80)
        if edit is not None:
            edit(f)
    return path


def _replace(path: str, value: object) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        del f[path]
        f[path] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (_replace("layer/1/weight", np.ones(12, np.float32)), "weight must be 2-D"),
        (_replace("layer/1/neuron/vThMant", np.nan), "vThMant holds NaN"),
        (lambda f: f.__delitem__("layer/1"), "no dense or conv layer (an empty network)"),
        (_replace("layer/1/type", 7), "type must be a string"),
        (_replace("layer/1/shape", np.array([b"3"])), "shape must be"),
        (_replace("layer/1/neuron/type", np.bytes_("LIF")), "NetX neurons are CUBA, SDNN"),
        (_replace("layer/1/weight", np.ones((3, 5), np.float32)), "does not map [4] to [3]"),
        (lambda f: f.move("layer/1", "layer/7"), "numbered 0..n-1"),
        (_replace("layer/1/weight", np.ones((3, 4), np.complex64)), "real numbers"),
    ],
)
def test_invalid_netx_files_are_refused(
    tmp_path: Path, edit: Callable[[h5py.File], None], named: str
) -> None:
    assert fit_report(_netx(tmp_path / "ok.net"))[0].neurons == 3
    path = _netx(tmp_path / "bad.net", edit)
    with pytest.raises(InputError, match="invalid NetX network") as err:
        fit_report(path)
    assert named in str(err.value)
    res = runner.invoke(app, ["fit", str(path)])
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1, res.output


@pytest.fixture
def nir_file(tmp_path: Path) -> Path:
    r = np.random.default_rng(0)
    nodes = {
        "x": ir.Input((4,)),
        "l": ir.Linear(r.normal(size=(3, 4)), None),
        "n": ir.LIF(4.0, 1.0, 0.0, True),
        "r": ir.Readout(),
    }
    g = Graph(nodes, {"x": (), "l": ("x",), "n": ("l",), "r": ("n",)}, ("r",))
    return save(tmp_path / "m.nir", to_nir(g))


def _nir_edit(path: Path, key: str, value: object) -> None:
    with h5py.File(path, "r+") as f:
        del f[key]
        f[key] = value


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("node/nodes/n/tau", np.zeros(3), "tau must be > 0"),
        ("node/nodes/l/weight", np.ones((3, 4), np.complex64), "complex64 values"),
        ("node/nodes/l/weight", np.full((3, 4), np.inf), "holds NaN or Inf"),
        ("node/nodes/n/metadata/sjconvert", "{not json", "not a JSON object"),
        ("node/nodes/n/metadata/sjconvert", json.dumps({"tau": "4"}), "'tau' = 4"),
        ("node/nodes/n/type", "Mystery", "not a valid NIR graph"),
    ],
)
def test_invalid_nir_files_are_refused(nir_file: Path, key: str, value: object, named: str) -> None:
    assert "n" in read(nir_file).nodes
    _nir_edit(nir_file, key, value)
    with pytest.raises(InputError) as err:
        read(nir_file)
    assert named in str(err.value) and str(nir_file) in str(err.value)


def test_a_bad_time_step_is_refused(nir_file: Path, tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["from-nir", str(nir_file), "-o", str(tmp_path / "o.sjir"), "--dt", "-1"]
    )
    assert res.exit_code == 2 and "dt must be a positive number" in res.output, res.output
    assert not (tmp_path / "o.sjir").exists()
