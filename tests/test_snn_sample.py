"""The bundled SpikingJelly SNN sample (``digits_snn``) and its README flow.

The sample's architecture, weights and data load; captured, it runs spike for spike as
SpikingJelly runs it on the shipped test set (so both report the same accuracy); and the
command-line flow of the README — capture → simulate → to-lynxi --verify → to-nir — works
on its sample-major and time-major data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from samples import SAMPLES_DIR, load
from sjconvert.cli.main import app
from sjconvert.exec import Simulator, is_sequence
from sjconvert.frontends.capture import capture, example_input
from sjconvert.ir import load as load_ir
from tests.exec.sj_helpers import assert_trains_equal, sj_forward

pytestmark = pytest.mark.interop

ARCH = "samples.snn_models:DigitsSNN"
WEIGHTS = SAMPLES_DIR / "digits_snn.pt"
TEST = SAMPLES_DIR / "digits_snn_test.npz"
CALIB = SAMPLES_DIR / "digits_snn_calib.npz"
MIN_ACCURACY = 0.9


@pytest.fixture(scope="module")
def sample() -> tuple[torch.nn.Module, dict[str, np.ndarray], dict[str, np.ndarray]]:
    return load("digits_snn")


def test_files_are_small_sample_major_spikes(sample) -> None:
    _, test, calib = sample
    for arrays, n in ((test, 360), (calib, 512)):
        assert arrays["x"].shape == (n, 16, 1, 8, 8) and arrays["x"].dtype == np.uint8
        assert set(np.unique(arrays["x"])) == {0, 1}
        assert arrays["y"].shape == (n,)
    for path in (WEIGHTS, TEST, CALIB):
        assert path.stat().st_size < 200_000, path


def test_captured_sample_is_spike_exact_with_spikingjelly(sample) -> None:
    model, test, _ = sample
    x = torch.from_numpy(test["x"]).float()
    graph = capture(model, example_input(model, x))
    assert is_sequence(graph)
    assert [n.op for _, n in graph] == [
        *("Input", "Conv2d", "IF", "AvgPool2d", "Flatten", "Dropout"),
        *("Linear", "LIF", "Linear", "LIF"),
    ]
    xt = x.transpose(0, 1)  # SpikingJelly's [T, N, ...]
    want = sj_forward(model, xt).sum(0).argmax(1).numpy()
    got = Simulator(graph).run(xt, T=16).output[-1].argmax(1).numpy()
    assert np.array_equal(got, want)
    accuracy = float(np.mean(want == test["y"]))
    assert accuracy >= MIN_ACCURACY, accuracy
    assert_trains_equal(graph, model, xt[:, :48], 16)


def _cli(*args: str) -> str:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 0, res.output
    return res.output


def test_readme_flow(sample, tmp_path: Path) -> None:
    """capture → simulate (both layouts) → to-lynxi --verify → to-nir → to-lava (fixed point),
    as the README runs it."""
    _, test, _ = sample
    snn = tmp_path / "digits_snn.sjir"
    _cli("capture", str(WEIGHTS), "--arch", ARCH, "--data", str(CALIB), "-o", str(snn))
    assert is_sequence(load_ir(snn))
    report = json.loads(_cli("simulate", str(snn), "--data", str(TEST), "--json"))
    want = float(np.mean(_sj_predictions(sample) == test["y"]))
    assert report["snn"] == {"16": want}
    tn = tmp_path / "test_tn.npz"
    np.savez(tmp_path / "test_tn.npz", x=test["x"][:64].swapaxes(0, 1), y=test["y"][:64])
    report = json.loads(
        _cli("simulate", str(snn), "--data", str(tn), "--time-major", "-T", "8,16", "--json")
    )
    assert set(report["snn"]) == {"8", "16"}
    lynxi = json.loads(
        _cli(
            *("to-lynxi", str(snn), "-o", str(tmp_path / "lynxi"), "-T", "16"),
            *("--verify", str(tn), "--time-major", "--json"),
        )
    )
    fp32 = lynxi["verify"]["ONNX Runtime float32"]
    assert fp32["spike_count_agreement"] == 1.0 and fp32["prediction_agreement"] == 1.0
    info = json.loads((tmp_path / "lynxi" / "lynxi.json").read_text())
    assert info["input"]["shape"] == ["T·N", 1, 8, 8]
    _cli("to-nir", str(snn), "-o", str(tmp_path / "digits_snn.nir"))
    assert (tmp_path / "digits_snn.nir").stat().st_size > 0
    lava = json.loads(
        _cli(
            *("to-lava", str(snn), "-o", str(tmp_path / "digits_snn.net"), "-T", "16"),
            *("--calib", str(CALIB), "--verify", str(TEST), "--lava-samples", "0", "--json"),
        )
    )
    assert lava["neuron"] == "cuba" and lava["format"] == "netx"
    # the output LIF votes with its spike counts, as the float SNN does: within 1 point
    assert lava["verify"]["fixed_point"] >= lava["verify"]["snn_float"] - 0.01


def _sj_predictions(sample) -> np.ndarray:
    model, test, _ = sample
    xt = torch.from_numpy(test["x"]).float().transpose(0, 1)
    return sj_forward(model, xt).sum(0).argmax(1).numpy()
