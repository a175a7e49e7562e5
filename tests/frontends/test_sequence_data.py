"""Spike-sequence data: sample-major ``[N, T, ...]`` files and time-major ``[T, N, ...]`` ones
(``--time-major``) load into the same batches, split on the sample axis; ``simulate``
runs them on a graph whose input is a sequence, and refuses other shapes in one line."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from sjconvert.cli.main import app
from sjconvert.errors import InputError
from sjconvert.exec import Simulator
from sjconvert.frontends.loading import load_data
from sjconvert.ir import Graph, save
from sjconvert.ir import nodes as ir

STEP, T, N = (2, 4), 6, 10


def _sequences(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Binary sequences ``[N, T, 2, 4]`` and labels ``[N]``."""
    rng = np.random.default_rng(seed)
    return (rng.random((N, T, *STEP)) < 0.5).astype(np.uint8), rng.integers(0, 3, N)


def _graph() -> Graph:
    """``Input(2, 4; sequence) → Flatten → Linear(8 → 3) → LIF``."""
    w = np.linspace(-0.4, 0.9, 24, dtype=np.float32).reshape(3, 8)
    nodes = {
        "x": ir.Input(STEP, sequence=True),
        "flat": ir.Flatten(1, -1),
        "fc": ir.Linear(w, None),
        "lif": ir.LIF(2.0, 1.0, 0.0, False, 0.0),
    }
    return Graph(nodes, {"x": (), "flat": ("x",), "fc": ("flat",), "lif": ("fc",)}, ("lif",))


def test_time_major_files_load_sample_major(tmp_path: Path) -> None:
    x, y = _sequences()
    np.savez(tmp_path / "nt.npz", x=x, y=y)
    np.savez(tmp_path / "tn.npz", x=x.swapaxes(0, 1), y=y)
    sample = list(load_data(str(tmp_path / "nt.npz"), batch_size=4))
    timed = list(load_data(str(tmp_path / "tn.npz"), batch_size=4, time_major=True))
    assert [b.x.shape[0] for b in timed] == [4, 4, 2]  # batches split the sample axis
    for a, b in zip(sample, timed, strict=True):
        assert a.x.shape == b.x.shape == (len(a.y), T, *STEP)
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)


def test_time_major_function_batches_are_swapped(monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = _sequences()
    tn = x.swapaxes(0, 1)
    source = types.ModuleType("sj_seq_source")
    source.batches = lambda: [(tn[:, :5], y[:5]), (tn[:, 5:], y[5:])]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sj_seq_source", source)
    got = list(load_data("sj_seq_source:batches", time_major=True))
    assert torch.equal(torch.cat([b.x for b in got]), torch.from_numpy(x).float())


def test_time_major_data_without_the_flag_gets_a_hint(tmp_path: Path) -> None:
    x, y = _sequences()
    np.savez(tmp_path / "tn.npz", x=x.swapaxes(0, 1), y=y)
    with pytest.raises(InputError) as err:
        load_data(str(tmp_path / "tn.npz"))
    assert "'x' has 6 samples but 'y' has 10" in str(err.value)
    assert "pass --time-major" in str(err.value)
    np.savez(tmp_path / "flat.npz", x=np.ones((4, 3)))
    with pytest.raises(InputError, match=r"flat.npz: time-major data is \[T, N, \.\.\.\]"):
        load_data(str(tmp_path / "flat.npz"), time_major=True)


def _simulate(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["simulate", *args, "--json"])
    return res.exit_code, res.output


def test_simulate_runs_sequences_in_either_layout(tmp_path: Path) -> None:
    x, _ = _sequences()
    g = _graph()
    pred = Simulator(g).run(torch.from_numpy(x).float().transpose(0, 1), T=T).output.argmax(-1)
    y = pred[-1].numpy()
    y[:3] = (y[:3] + 1) % 3  # three wrong labels: accuracy 70 % at T=6
    save(tmp_path / "g.sjir", g)
    np.savez(tmp_path / "nt.npz", x=x, y=y)
    np.savez(tmp_path / "tn.npz", x=x.swapaxes(0, 1), y=y)
    code, out = _simulate(str(tmp_path / "g.sjir"), "--data", str(tmp_path / "nt.npz"))
    assert code == 0, out
    report = json.loads(out)
    assert report["snn"] == {"6": 0.7} and report["samples"] == N  # T: the data's length
    code, out = _simulate(
        str(tmp_path / "g.sjir"), "--data", str(tmp_path / "tn.npz"), "--time-major", "-T", "2,6"
    )
    assert code == 0, out
    want = float(np.mean(pred[1].numpy() == y))
    assert json.loads(out)["snn"] == {"2": want, "6": 0.7}


def test_simulate_refuses_a_shape_that_fits_neither_form(tmp_path: Path) -> None:
    save(tmp_path / "g.sjir", _graph())
    np.savez(tmp_path / "bad.npz", x=np.zeros((N, T, 4, 2)), y=np.zeros(N))
    np.savez(tmp_path / "short.npz", x=np.zeros((N, T, *STEP)), y=np.zeros(N))
    code, out = _simulate(str(tmp_path / "g.sjir"), "--data", str(tmp_path / "bad.npz"))
    assert code == 2
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 1, out
    assert "[N, T, 2, 4] (sequences, sample-major" in out
    assert "[T, N, 2, 4] (sequences, time-major" in out and "per-step input shape [2, 4]" in out
    code, out = _simulate(
        str(tmp_path / "g.sjir"), "--data", str(tmp_path / "short.npz"), "-T", "8"
    )
    assert code == 2 and "sequences of 6 steps; cannot run T=8" in out
