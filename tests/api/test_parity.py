"""``sjconvert.parity``: every backend against the torch reference in one report, the
requirements that make it a CI gate, and the pytest helper for users' suites."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sjconvert import InputError, ParityReport, ann2snn, parity, save
from sjconvert.api.report import BACKENDS, Row, check, parse_requirements
from sjconvert.exec.parity import ParityMeter
from sjconvert.testing import assert_parity
from tests.conftest import load_sample

pytestmark = pytest.mark.onnx
# Backends that run torch's own kernels (NumPy through DLPack, the exported module) agree
# bit for bit; ONNX Runtime sums convolutions in another order (its MLAS kernels), so on some
# CPUs a membrane within an ulp of a threshold fires one step apart (docs/parity.md).
EXACT = ("torch", "numpy", "lynxi")
ORT = ("onnx-unrolled", "onnx-step", "lynxi-onnx")


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> tuple:
    """The digits SNN in an IR file beside its ANN (as ann2snn writes it), two batches."""
    model, test, calib = load_sample("digits")
    conv = ann2snn(model, [calib["x"][:128]])
    path = save(tmp_path_factory.mktemp("parity") / "digits.sjir", conv.snn, source=conv.ann)
    return path, [(test["x"][:48], test["y"][:48]), (test["x"][48:80], test["y"][48:80])]


@pytest.fixture(scope="module")
def report(digits) -> ParityReport:
    snn, data = digits
    names = [b for b in BACKENDS if b != "lava"]
    return parity(
        snn, data, names, T=8, require="spikes=0.99,predictions=1.0,loihi.predictions=0.9"
    )


def _rows(report: ParityReport) -> dict[str, Row]:
    return {r.backend: r for r in report.rows}


def test_every_exact_backend_agrees_spike_for_spike(report) -> None:
    rows = _rows(report)
    for name in EXACT:
        a = rows[name].agreement
        assert rows[name].status == "ok", (name, rows[name].reason)
        assert a.samples == 80 and a.spike_count_agreement == 1.0, name
        assert a.prediction_agreement == 1.0 and set(a.layers.values()) == {1.0}, name
        assert a.accuracy == a.accuracy_reference > 0.9, name
        assert a.max_rate_error < 1e-5 and rows[name].seconds > 0, name
    for name in ORT:
        a = rows[name].agreement
        assert rows[name].status == "ok", (name, rows[name].reason)
        assert a.spike_count_agreement >= 0.99 and min(a.layers.values()) >= 0.98, name
        assert a.prediction_agreement == 1.0 and a.max_rate_error < 1e-5, name
    assert rows["torch"].agreement.max_rate_error == 0.0
    assert report.passed and report.samples == 80 and report.steps == [8]


def test_backends_that_cannot_run_say_why(report) -> None:
    rows = _rows(report)
    if rows["cupy"].status == "skipped":  # no CUDA device here
        assert "CUDA" in rows["cupy"].reason or "CuPy" in rows["cupy"].reason
    assert rows["nir"].status == "unsupported"  # NIR has no signed (anytime) neuron
    assert "SignedIF" in rows["nir"].reason and "features_2" in rows["nir"].reason


def test_loihi_row_compares_predictions_of_the_fixed_point_model(report) -> None:
    loihi = _rows(report)["loihi"]
    assert loihi.status == "ok" and "plain conversion" in loihi.against
    assert loihi.agreement.spike_count_agreement is None
    assert loihi.agreement.max_rate_error is None
    assert loihi.agreement.prediction_agreement > 0.9
    # its own requirement replaces predictions=1.0 (quantisation changes a few predictions)
    assert check([loihi], {"predictions": 1.0, "loihi.predictions": 0.9}) == []


def test_report_json_has_one_row_schema(report) -> None:
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["schema"] == "sjconvert.parity/1" and doc["passed"] is True
    assert [r["backend"] for r in doc["rows"]] == [b for b in BACKENDS if b != "lava"]
    ok = next(r for r in doc["rows"] if r["backend"] == "numpy")
    for key in ("spike_count_agreement_per_layer", "prediction_agreement", "accuracy"):
        assert key in ok
    assert {"max_rate_error", "seconds", "T", "status", "against"} <= set(ok)
    assert doc["neurons_per_layer"]["features_2"] > 0


def test_requirements_parse_and_fail_rows() -> None:
    req = parse_requirements("spikes=1.0, predictions=0.99,loihi.predictions=0.5")
    assert req == {"spikes": 1.0, "predictions": 0.99, "loihi.predictions": 0.5}
    meter = ParityMeter()
    meter.update_predictions(np.array([1, 2, 3, 4]), np.array([1, 2, 3, 0]))
    rows = [Row("loihi", 8, "ok", agreement=meter.result())]
    assert check(rows, req) == []  # 0.75 >= 0.5 for loihi; its spikes are n/a
    assert check(rows, {"predictions": 0.8}) == ["loihi T=8: predictions 0.75 below 0.8"]
    assert check([Row("nir", 8, "failed", reason="boom")], req) == ["nir T=8: failed: boom"]
    for bad in ("spikes", "spikes=high", "speed=1", "gpu.spikes=1"):
        with pytest.raises(InputError):
            parse_requirements(bad)


def test_unknown_backend_and_empty_data_are_input_errors(digits) -> None:
    snn, data = digits
    with pytest.raises(InputError, match="unknown backend"):
        parity(snn, data, ["numpy", "tpu"])
    with pytest.raises(InputError, match="empty"):
        parity(snn, [], ["numpy"])


def test_assert_parity_passes_and_names_every_miss(digits) -> None:
    snn, data = digits
    report = assert_parity(snn, data, backends=["numpy", "onnx-step"], T=[4, 8])
    assert [(r.backend, r.steps) for r in report.rows] == [
        ("numpy", 4),
        ("onnx-step", 4),
        ("numpy", 8),
        ("onnx-step", 8),
    ]
    with pytest.raises(AssertionError, match=r"rate_error .* above 0; nir T=8: unsupported"):
        assert_parity(snn, data, backends=["nir", "onnx-unrolled"], require="rate_error=0")
