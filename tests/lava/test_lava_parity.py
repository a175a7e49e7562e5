"""``sjconvert.parity`` with the Loihi rows: the fixed-point simulator against the float SNN
it was lowered from, and Lava's own simulator against the fixed-point one, spike for spike."""

from __future__ import annotations

import pytest

from sjconvert import ann2snn, parity, save
from tests.conftest import load_sample

pytestmark = pytest.mark.lava


def test_lava_matches_the_fixed_point_simulator_in_the_parity_report(tmp_path) -> None:
    model, test, calib = load_sample("digits")
    conv = ann2snn(model, [calib["x"][:128]])
    path = save(tmp_path / "digits.sjir", conv.snn, source=conv.ann)
    data = [(test["x"][:32], test["y"][:32])]
    report = parity(path, data, ["loihi", "lava"], T=8, lava_samples=1, require="spikes=1.0")
    loihi, lava = report.rows
    assert (loihi.backend, loihi.status, lava.backend, lava.status) == (
        "loihi",
        "ok",
        "lava",
        "ok",
    ), lava.reason
    assert loihi.agreement.prediction_agreement > 0.85
    assert lava.against == "Loihi fixed-point simulator" and lava.agreement.samples == 1
    assert lava.agreement.spike_count_agreement == 1.0 and lava.agreement.layers
    assert lava.agreement.prediction_agreement == 1.0 and "state equal" in lava.reason
    assert report.passed
