"""``sjconvert to-onnx`` / ``to-lynxi`` (and ``ann2snn`` on an ONNX file) end to end."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import onnx
import pytest
import torch
from typer.testing import CliRunner

from sjconvert.cli.main import app
from sjconvert.ir.io import save

ROOT = Path(__file__).resolve().parents[2]
TEST = str(ROOT / "samples" / "digits_test.npz")


@pytest.fixture(scope="module")
def snn_file(samples, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("snn") / "digits.sjir"
    save(path, samples["digits"][0])
    return path


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


def _json(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_to_onnx_unrolled_and_step_verify_as_json(runner, snn_file, tmp_path) -> None:
    out = tmp_path / "u.onnx"
    report = _json(
        runner.invoke(
            app,
            ["to-onnx", str(snn_file), "-o", str(out), "-T", "4", "--verify", TEST, "--json"],
        )
    )
    (row,) = report["verify"].values()
    assert row["samples"] == 360 and row["prediction_agreement"] >= 0.99
    assert row["spike_count_agreement"] >= 0.99 and row["max_rate_error"] < 1
    assert onnx.load(str(out)).graph.input[0].name == "x"
    step = tmp_path / "s.onnx"
    report = _json(
        runner.invoke(
            app,
            [
                "to-onnx",
                str(snn_file),
                "-o",
                str(step),
                "--form",
                "step",
                "--verify",
                TEST,
                "-T",
                "3",
                "--json",
            ],
        )
    )
    assert report["inputs"][:3] == ["x", "t", report["inputs"][2]]
    assert next(iter(report["verify"].values()))["prediction_agreement"] >= 0.98


def test_to_onnx_prints_the_parity_table(runner, snn_file, tmp_path) -> None:
    result = runner.invoke(
        app,
        [
            "to-onnx",
            str(snn_file),
            "-o",
            str(tmp_path / "m.onnx"),
            "-T",
            "2",
            "--verify",
            TEST,
        ],
    )
    assert result.exit_code == 0, result.output
    for column in ("predictions", "spikes", "lowest layer", "max rate err", "accuracy"):
        assert column in result.stdout
    assert "ONNX Runtime unrolled float32" in result.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["--form", "rolled"], "--form is unrolled or step"),
        (["--form", "step", "--dtype", "float16"], "--form step is float32 only"),
        (["-T", "2", "--dtype", "int8"], "dtype must be one of"),
    ],
)
def test_to_onnx_bad_options_fail_with_one_line(runner, snn_file, tmp_path, args, message):
    out = tmp_path / "m.onnx"
    result = runner.invoke(app, ["to-onnx", str(snn_file), "-o", str(out), *args])
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


def test_to_lynxi_writes_the_folder_and_verifies_float16(runner, snn_file, tmp_path) -> None:
    out = tmp_path / "lynxi"
    report = _json(
        runner.invoke(
            app, ["to-lynxi", str(snn_file), "-o", str(out), "--T", "4", "--verify", TEST, "--json"]
        )
    )
    assert sorted(p.name for p in out.iterdir()) == ["lynxi.json", "lynxi.onnx", "model.sjir"]
    info = json.loads((out / "lynxi.json").read_text())
    assert info["T"] == 4 and info["dtype"] == "float16" and info["input"]["shape"][0] == "N"
    model = onnx.load(str(out / "lynxi.onnx"))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    rows = report["verify"]
    assert set(rows) == {"ONNX Runtime float32", "ONNX Runtime float16"}
    assert rows["ONNX Runtime float16"]["prediction_agreement"] >= 0.95


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("lyngor") is not None,
    reason="Lynxi SDK installed: the missing-SDK message cannot be shown",
)
def test_to_lynxi_compile_without_sdk_is_one_line_and_writes_nothing(runner, snn_file, tmp_path):
    out = tmp_path / "lx"
    result = runner.invoke(app, ["to-lynxi", str(snn_file), "-o", str(out), "--compile"])
    assert result.exit_code == 5 and "`lyngor` is not installed" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not out.exists()


def test_ann2snn_takes_an_onnx_model(runner, tmp_path) -> None:
    from tests.conftest import load_sample

    model, test, _ = load_sample("digits")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.tensor(test["x"][:2]),),
            str(tmp_path / "d.onnx"),
            dynamo=False,
            opset_version=17,
            dynamic_axes={"x.1": {0: "n"}},
        )
    out = tmp_path / "d.sjir"

    def ann2snn(calib: str, *extra: str):
        path = str(ROOT / "samples" / f"{calib}_calib.npz")
        return runner.invoke(app, ["ann2snn", str(tmp_path / "d.onnx"), "--calib", path, *extra])

    assert _json(ann2snn("digits", "-o", str(out), "--json"))["calibration_samples"] == 512
    assert out.exists()
    bad = ann2snn("mnist1d", "-o", str(out) + "2")
    assert bad.exit_code == 2 and "does not fit input" in bad.output
    assert len(bad.output.strip().splitlines()) == 1


def test_to_lynxi_sequence_input(runner, snn_file, tmp_path) -> None:
    out = tmp_path / "seq"
    result = runner.invoke(app, ["to-lynxi", str(snn_file), "-o", str(out), "--sequence"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "lynxi.json").read_text())["input"]["shape"][0] == "T·N"
    args = ["to-lynxi", str(snn_file), "-o", str(tmp_path / "b"), "--sequence", "--json"]
    report = _json(runner.invoke(app, [*args, "--verify", TEST]))  # direct data, every step
    fp32 = report["verify"]["ONNX Runtime float32"]
    assert fp32["spike_count_agreement"] == 1.0 and fp32["prediction_agreement"] == 1.0
