"""``sjconvert to-lava --verify`` end to end: Lava runs every sample of the data (a network
built once, as a subprocess) and the JSON report holds the accuracies and a perfect
agreement per population, for a NetX chain and for a residual process graph."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sjconvert.api import lava_verify
from sjconvert.cli.main import app

pytestmark = pytest.mark.lava
SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.mark.parametrize(
    ("name", "arch", "steps", "neuron", "unroll", "batch"),
    [
        ("digits", "DigitsCNN", 2, "sdnn", False, 5),  # 3 accuracy batches, 3 Lava runs
        ("mnist1d", "ResCNN1d", 4, "graded", False, None),
        ("mnist1d", "ResCNN1d", 4, "graded", True, None),
    ],
)
def test_verify_reports_parity_and_accuracy(
    name, arch, steps, neuron, unroll, batch, tmp_path, monkeypatch
):
    if batch is not None:
        monkeypatch.setattr(lava_verify, "BATCH", batch)
    test = np.load(SAMPLES / f"{name}_test.npz")
    data = tmp_path / "test12.npz"
    np.savez(data, x=test["x"][:12], y=test["y"][:12])
    model = "digits_cnn.pt" if name == "digits" else "mnist1d_rescnn.pt"
    fmt = "netx" if neuron == "sdnn" else "procgraph"
    out = tmp_path / ("d.net" if fmt == "netx" else "d.lpg.npz")
    args = [
        "to-lava", str(SAMPLES / model), "--arch", f"samples.models:{arch}",
        "--calib", str(SAMPLES / f"{name}_calib.npz"), "-o", str(out), "--neuron", neuron,
        "--T", str(steps), "--verify", str(data), "--json",
    ] + (["--lava-unroll"] if unroll else [])  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    verify = report["verify"]
    assert report["neuron"] == neuron and report["format"] == fmt
    assert verify["fixed_point"] >= verify["ann"] - 0.1
    lava = verify["lava"]
    assert lava["samples"] == 12 and lava["state_equal"]  # every sample when fewer than 200
    assert lava["samples_compared"] == 12  # every batch's Lava run, not the first only
    assert set(lava["spike_agreement"].values()) == {1.0}
    assert len(lava["spike_agreement"]) == len(report["layers"])
    assert lava["prediction_agreement"] == 1.0
    assert lava["accuracy"] == lava["fixed_point_accuracy"]
    assert lava["network"] == ("unrolled twin" if unroll else "as written")
    assert lava["actors"] == "threads"  # Lava's actors as threads of one process
    assert lava.get("twin_equals_network", True)
