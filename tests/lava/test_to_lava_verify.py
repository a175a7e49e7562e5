"""``sjconvert to-lava --verify`` end to end: Lava runs (as a subprocess) and the JSON report
holds the accuracies and a perfect spike agreement per layer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sjconvert.cli.main import app

pytestmark = pytest.mark.lava
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_verify_reports_parity_and_accuracy(tmp_path):
    test = np.load(SAMPLES / "digits_test.npz")
    data = tmp_path / "test20.npz"
    np.savez(data, x=test["x"][:20], y=test["y"][:20])
    args = [
        "to-lava", str(SAMPLES / "digits_cnn.pt"), "--arch", "samples.models:DigitsCNN",
        "--calib", str(SAMPLES / "digits_calib.npz"), "-o", str(tmp_path / "d.net"),
        "--T", "6", "--verify", str(data), "--lava-samples", "1",
        "--json",
    ]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    verify = report["verify"]
    assert report["neuron"] == "sdnn"
    assert verify["fixed_point"] >= verify["ann"] - 0.01
    lava = verify["lava"]
    assert lava["samples"] == 1 and lava["voltage_equal"]
    assert set(lava["spike_agreement"].values()) == {1.0}
    assert lava["accuracy"] == lava["fixed_point_accuracy"]
