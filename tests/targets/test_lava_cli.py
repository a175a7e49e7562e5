"""``sjconvert to-lava``: writes NetX or a process graph with a quantisation report; clear
one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest
from typer.testing import CliRunner

from sjconvert.cli.main import app
from sjconvert.errors import EmitError
from sjconvert.targets.lava.running import launcher as verify

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
DIGITS = [str(SAMPLES / "digits_cnn.pt"), "--arch", "samples.models:DigitsCNN"]


def test_to_lava_writes_netx_and_reports_json(tmp_path):
    out = tmp_path / "digits.net"
    args = [*DIGITS, "--calib", str(SAMPLES / "digits_calib.npz"), "-o", str(out), "--T", "16"]
    res = CliRunner().invoke(app, ["to-lava", *args, "--neuron", "cuba", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert list(report["layers"]) == [
        "features_2",
        "features_5",
        "features_9",
        "classifier_2",
        "classifier_4_readout",
    ]
    assert all(f["error"]["weight"] < 0.02 for f in report["layers"].values())
    assert report["neuron"] == "cuba" and report["format"] == "netx"
    # the threshold factor is picked on the calibration data, in the middle of the best
    calib = report["alpha_calibration"]
    assert report["alpha"] in (0.5, 0.6, 0.7) and calib[str(report["alpha"])] == max(calib.values())
    assert calib["1.0"] < 0.6
    with h5py.File(out) as f:
        assert len(f["layer"]) == 7


def test_to_lava_picks_sigma_delta_for_a_converted_ann(tmp_path):
    out = tmp_path / "digits.net"
    args = [*DIGITS, "--calib", str(SAMPLES / "digits_calib.npz"), "-o", str(out)]
    res = CliRunner().invoke(app, ["to-lava", *args])
    assert res.exit_code == 0, res.output
    assert "sdnn neurons" in res.output and "features_2" in res.output


RESNET = [
    str(SAMPLES / "mnist1d_rescnn.pt"),
    "--arch",
    "samples.models:ResCNN1d",
    "--calib",
    str(SAMPLES / "mnist1d_calib.npz"),
]


def test_to_lava_writes_the_residual_net_as_a_process_graph(tmp_path):
    out = tmp_path / "res.lpg.npz"
    res = CliRunner().invoke(app, ["to-lava", *RESNET, "-o", str(out), "-T", "8"])
    assert res.exit_code == 0, res.output
    assert "procgraph, 6 populations, 8 synapses, sdnn neurons" in res.output
    assert out.exists() and (tmp_path / "procgraph_loader.py").exists()


def test_to_lava_errors_are_one_line(tmp_path):
    out = tmp_path / "res.net"
    res = CliRunner().invoke(app, ["to-lava", *RESNET, "-o", str(out), "--format", "netx"])
    assert res.exit_code == 5
    assert "NetX holds a chain of layers" in res.output and "block1_relu2" in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not out.exists()
    res = CliRunner().invoke(app, ["to-lava", *DIGITS, "-o", str(out), "--alpha", "2"])
    assert res.exit_code == 2 and "--alpha must be in (0, 1]" in res.output


def test_missing_lava_environment_says_how_to_create_it(monkeypatch, tmp_path):
    monkeypatch.setattr(verify, "REPO", tmp_path)
    monkeypatch.delenv(verify.ENV_VAR, raising=False)
    monkeypatch.setattr(verify.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EmitError, match=r"make \.venv-lava/\.built"):
        verify.lava_python()
