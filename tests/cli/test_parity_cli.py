"""``sjconvert parity`` as a CI gate, and ``--plot`` of parity and simulate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sjconvert import ann2snn, save
from sjconvert.cli.main import app
from tests.conftest import SAMPLES, load_sample

pytestmark = pytest.mark.onnx
DATA = str(SAMPLES / "digits_test.npz")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def snn_file(tmp_path_factory) -> Path:
    model, _, calib = load_sample("digits")
    conv = ann2snn(model, [calib["x"][:128]])
    return save(tmp_path_factory.mktemp("cli") / "digits.sjir", conv.snn, source=conv.ann)


def _parity(snn_file: Path, *args: str):
    return CliRunner().invoke(
        app, ["parity", str(snn_file), "--data", DATA, "--backends", "numpy,onnx-step", *args]
    )


def test_parity_json_passes_its_requirements(snn_file) -> None:
    require = "numpy.spikes=1.0,onnx-step.spikes=0.99,predictions=1.0"
    res = _parity(snn_file, "--require", require, "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["passed"] and [r["backend"] for r in doc["rows"]] == ["numpy", "onnx-step"]
    assert doc["rows"][0]["spike_count_agreement"] == 1.0  # torch's kernels through DLPack


def test_parity_exits_1_when_a_requirement_fails(snn_file) -> None:
    res = _parity(snn_file, "--require", "rate_error=0")
    assert res.exit_code == 1
    assert "onnx-step T=8: rate_error" in res.output and "FAILED" in res.output
    assert "numpy T=8" not in res.output.split("FAILED")[-1]  # numpy is exact: no failure


def test_parity_refuses_bad_options_with_one_line(snn_file) -> None:
    for args, word in ((["--backends", "tpu"], "unknown backend"), (["-T", "x"], "-T")):
        res = CliRunner().invoke(app, ["parity", str(snn_file), "--data", DATA, *args])
        assert res.exit_code == 2 and word in res.output
        assert res.output.strip().count("\n") == 0


@pytest.mark.plot
def test_parity_and_simulate_write_plots(snn_file, tmp_path) -> None:
    res = _parity(snn_file, "-T", "4,8", "--plot", str(tmp_path / "parity.png"))
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(
        app,
        [
            "simulate",
            str(snn_file),
            "--data",
            DATA,
            "-T",
            "2,4,8",
            "--plot",
            str(tmp_path / "s.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    for name in ("parity.png", "s.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
