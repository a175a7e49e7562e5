"""The Python API end to end on the bundled samples (mirrors the CLI)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sjconvert
from sjconvert.ir import nodes as ir
from tests.conftest import ROOT, load_sample


def test_ann2snn_from_files_like_the_cli(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(ROOT)
    conv = sjconvert.ann2snn(
        "samples/digits_cnn.pt", "samples/digits_calib.npz", arch="samples.models:DigitsCNN"
    )
    assert conv.calib_samples == 512 and len(conv.scales) == 4
    path = sjconvert.save(tmp_path / "d.sjir", conv.snn, source=conv.ann)
    again = sjconvert.ann2snn(path, "samples/digits_calib.npz")  # re-converts the stored ANN
    assert set(again.scales) == set(conv.scales)
    for k, v in conv.scales.items():
        assert np.allclose(again.scales[k], v)
    report = sjconvert.simulate(
        sjconvert.load(path),
        sjconvert.load_data("samples/digits_test.npz"),
        [8, 16],
        ann=sjconvert.load(path, "source"),
    )
    assert report.ann == pytest.approx(0.9944, abs=1e-3)
    assert report.snn[16] >= 0.98 and report.snn[8] <= report.snn[16] + 0.01


@pytest.mark.parametrize("name,T,floor", [("digits", 16, 0.98), ("mnist1d", 32, 0.97)])
def test_default_conversion_accuracy_floor(name: str, T: int, floor: float) -> None:
    """Default settings (99.9 %, channel-wise, signed neurons) reach a stated accuracy on each
    sample, with one scale per neuron layer."""
    model, test, calib = load_sample(name)
    conv = sjconvert.ann2snn(model, [torch.tensor(calib["x"])])
    x, y = torch.tensor(test["x"]), torch.tensor(test["y"])
    res = sjconvert.run(conv.snn, x, T=T)
    acc = float((res.output[T - 1].argmax(-1) == y).float().mean())
    assert acc >= floor
    assert sum(isinstance(n, ir.SignedIF) for _, n in conv.snn) == len(conv.scales)


def test_open_snn_converts_models_and_reuses_snn_files(tmp_path):
    from sjconvert.api.convert import open_snn
    from sjconvert.errors import InputError
    from sjconvert.ir.io import save
    from tests.conftest import load_sample

    model, _, calib = load_sample("digits")
    with pytest.raises(InputError, match="--calib"):
        open_snn(model)
    snn, ann = open_snn(model, [calib["x"][:32]], mode="max")
    assert any(n.spiking for _, n in snn) and not any(n.spiking for _, n in ann)
    path = tmp_path / "net.sjir"
    save(path, snn, source=ann)
    again, source = open_snn(path)
    assert list(again.nodes) == list(snn.nodes) and source is not None
