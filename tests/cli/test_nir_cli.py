"""``sjconvert to-nir`` / ``from-nir`` on a small converted SNN."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sjconvert.cli.main import app
from sjconvert.exec import Simulator
from sjconvert.ir import load, save
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph

runner = CliRunner()


def _snn(path: Path, v_reset: float | None) -> Path:
    r = np.random.default_rng(0)
    nodes = {
        "x": ir.Input((4,)),
        "l": ir.Linear(r.uniform(0, 1, (6, 4)), None),
        "n": ir.IF(1.0, v_reset, 0.0),
        "o": ir.Linear(r.normal(size=(3, 6)), None),
        "r": ir.Readout(),
    }
    edges = {"x": (), "l": ("x",), "n": ("l",), "o": ("n",), "r": ("o",)}
    return save(path, Graph(nodes, edges, ("r",)))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    x = np.random.default_rng(1).uniform(0, 1, (40, 4)).astype(np.float32)
    path = tmp_path / "data.npz"
    np.savez(path, x=x, y=np.arange(40) % 3)
    return path


def test_to_nir_and_back(tmp_path: Path) -> None:
    src = _snn(tmp_path / "m.sjir", 0.0)
    res = runner.invoke(app, ["to-nir", str(src), "-o", str(tmp_path / "m.nir")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["from-nir", str(tmp_path / "m.nir"), "-o", str(tmp_path / "b.sjir")])
    assert res.exit_code == 0, res.output
    a, b = load(src), load(tmp_path / "b.sjir")
    x = torch.rand(5, 4)
    assert torch.equal(Simulator(a).run(x, T=8).output, Simulator(b).run(x, T=8).output)


def test_soft_reset_is_refused_naming_the_node(tmp_path: Path) -> None:
    src = _snn(tmp_path / "m.sjir", None)
    res = runner.invoke(app, ["to-nir", str(src), "-o", str(tmp_path / "m.nir")])
    assert res.exit_code == 3
    assert "'n'" in res.output and "soft-reset-as-hard" in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "m.nir").exists()


def test_lossy_needs_data_and_prints_the_accuracy_change(tmp_path: Path, data: Path) -> None:
    src, out = _snn(tmp_path / "m.sjir", None), tmp_path / "m.nir"
    args = ["to-nir", str(src), "-o", str(out), "--lossy", "soft-reset-as-hard"]
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "--data" in res.output and not out.exists()
    res = runner.invoke(app, [*args, "--data", str(data), "-T", "4,16", "--json", "--accept-loss"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["lossy"] == {"soft-reset-as-hard": ["n"]}
    change = summary["accuracy_change"]
    assert change["samples"] == 40 and set(change["before"]) == {"4", "16"}
    assert out.exists()


def test_from_nir_rejects_a_foreign_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.nir"
    bad.write_text("not hdf5")
    res = runner.invoke(app, ["from-nir", str(bad), "-o", str(tmp_path / "b.sjir")])
    assert res.exit_code == 2 and "not a readable NIR file" in res.output
    assert not (tmp_path / "b.sjir").exists()


def test_from_nir_shows_every_imported_node(tmp_path: Path) -> None:
    from sjconvert.targets.nir import write

    r = np.random.default_rng(2)
    nodes = {
        "x": ir.Input((3,)),
        "l": ir.Linear(r.normal(size=(3, 3)), None),
        "c": ir.CubaLIF(0.5, 0.25, 0.8, 0.0, 0.0),
        "d": ir.Delay(2),
        "t": ir.Threshold(0.5),
        "i": ir.LI(4.0, 0.0),
    }
    edges = {"x": (), "l": ("x",), "c": ("l",), "d": ("c",), "t": ("d",), "i": ("t",)}
    src = write(tmp_path / "m.nir", Graph(nodes, edges, ("i",)))
    res = runner.invoke(app, ["from-nir", str(src), "-o", str(tmp_path / "m.sjir")])
    assert res.exit_code == 0, res.output
    for text in ("α=0.5 β=0.25", "delay 2 step(s)", "step θ=0.5", "leaky integrator τ=4"):
        assert text in res.output
    assert [n.op for _, n in load(tmp_path / "m.sjir")] == [n.op for n in nodes.values()]


def test_a_lossy_export_losing_more_than_max_loss_writes_nothing(tmp_path: Path) -> None:
    """Two neurons driven by 0.55 and 0.6 per step: with soft reset the second fires more
    often (class 1, the label); reset to zero both fire every other step and the tie reads
    as class 0. The drop (1.0) is beyond --max-loss: exit 1 and one line, no file, unless
    --accept-loss (or a larger --max-loss)."""
    nodes = {
        "x": ir.Input((1,)),
        "l": ir.Linear(np.array([[0.55], [0.6]]), None),
        "n": ir.IF(1.0, None, 0.0),
        "o": ir.Linear(np.eye(2), None),
        "r": ir.Readout(),
    }
    edges = {"x": (), "l": ("x",), "n": ("l",), "o": ("n",), "r": ("o",)}
    src, out = save(tmp_path / "m.sjir", Graph(nodes, edges, ("r",))), tmp_path / "m.nir"
    np.savez(tmp_path / "d.npz", x=np.ones((8, 1), np.float32), y=np.ones(8, np.int64))
    args = ["to-nir", str(src), "-o", str(out), "--lossy", "soft-reset-as-hard"]
    args += ["--data", str(tmp_path / "d.npz"), "-T", "16"]
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    assert res.output.strip() == (
        "error: --lossy drops the accuracy by 1.0000 at T=16 (1.0000 -> 0.0000), more than "
        f"--max-loss 0.02; {out} is not written (--accept-loss writes it anyway)"
    )
    assert not out.exists()
    assert runner.invoke(app, [*args, "--accept-loss"]).exit_code == 0 and out.exists()
    out.unlink()
    assert runner.invoke(app, [*args, "--max-loss", "1"]).exit_code == 0 and out.exists()
    bad = runner.invoke(app, [*args, "--max-loss", "2"])
    assert bad.exit_code == 2 and "--max-loss is an accuracy drop in [0, 1]" in bad.output
