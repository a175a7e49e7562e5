"""``sjconvert simulate --backend``: the NumPy graph reports what the reference reports, and
``cupy`` without a CUDA device fails with one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sjconvert.cli.main import app
from tests.targets.test_cupy_graph import _has_device

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cupy_cli") / "digits.sjir"
    args = ["ann2snn", str(SAMPLES / "digits_cnn.pt"), "--arch", "samples.models:DigitsCNN"]
    args += ["--calib", str(SAMPLES / "digits_calib.npz"), "-o", str(out)]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return out


def _simulate(converted: Path, backend: str) -> tuple[int, str]:
    data = str(SAMPLES / "digits_test.npz")
    args = ["simulate", str(converted), "--data", data, "-T", "4,16", "--json"]
    result = CliRunner().invoke(app, [*args, "--backend", backend])
    return result.exit_code, result.output


def test_numpy_backend_reports_what_the_reference_reports(converted: Path) -> None:
    runs = {}
    for backend in ("torch", "numpy"):
        code, output = _simulate(converted, backend)
        assert code == 0, output
        runs[backend] = json.loads(output)
        runs[backend].pop("seconds")
    assert runs["numpy"] == runs["torch"]
    assert runs["numpy"]["snn"]["16"] > 0.9


@pytest.mark.skipif(_has_device(), reason="checks the message shown when no CUDA device exists")
def test_cupy_backend_without_a_device_fails_with_one_line(converted: Path) -> None:
    code, output = _simulate(converted, "cupy")
    assert code == 2
    assert output.strip().count("\n") == 0 and "backend cupy needs" in output


def test_unknown_backend_is_refused(converted: Path) -> None:
    code, output = _simulate(converted, "jax")
    assert code == 2 and "unknown backend 'jax'" in output
