"""``sjconvert to-lava``: writes NetX with a quantisation report; clear one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import pytest
from typer.testing import CliRunner

from sjconvert.cli.main import app
from sjconvert.errors import EmitError
from sjconvert.targets.lava import verify

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
        "features_0",
        "features_3",
        "features_7",
        "classifier_1",
        "classifier_4",
    ]
    assert all(f["error"]["weight"] < 0.02 for f in report["layers"].values())
    assert report["neuron"] == "cuba"
    with h5py.File(out) as f:
        assert len(f["layer"]) == 7


def test_to_lava_picks_sigma_delta_for_a_converted_ann(tmp_path):
    out = tmp_path / "digits.net"
    args = [*DIGITS, "--calib", str(SAMPLES / "digits_calib.npz"), "-o", str(out)]
    res = CliRunner().invoke(app, ["to-lava", *args])
    assert res.exit_code == 0, res.output
    assert "sdnn neurons" in res.output and "features_0" in res.output


def test_to_lava_names_the_residual_add(tmp_path):
    out = tmp_path / "res.net"
    args = [
        str(SAMPLES / "mnist1d_rescnn.pt"),
        "--arch",
        "samples.models:ResCNN1d",
        "--calib",
        str(SAMPLES / "mnist1d_calib.npz"),
        "-o",
        str(out),
    ]
    res = CliRunner().invoke(app, ["to-lava", *args])
    assert res.exit_code == 3
    assert "(Add)" in res.output and "cannot express" in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_lava_environment_says_how_to_create_it(monkeypatch, tmp_path):
    monkeypatch.setattr(verify, "REPO", tmp_path)
    monkeypatch.delenv(verify.ENV_VAR, raising=False)
    monkeypatch.setattr(verify.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EmitError, match=r"make \.venv-lava/\.built"):
        verify.lava_python()
