"""The modern ops on every executor: NumPy, ONNX Runtime (unrolled and step models), the
Lynxi module and its ONNX export agree with the torch reference spike for spike on networks
with attention, layer norm, smooth activations, gated products and parameters; Lava and NIR
refuse them by name, saying why."""

from __future__ import annotations

import pytest
import torch

from sjconvert import ann2snn
from sjconvert.api.parity import parity
from sjconvert.targets.lava import REGISTRY as LAVA
from sjconvert.targets.nir import REGISTRY as NIR
from tests.frontends.test_capture_modern import GatedCNN, TinyViT

BACKENDS = ["numpy", "onnx-unrolled", "onnx-step", "lynxi", "lynxi-onnx"]


@pytest.fixture(scope="module", params=[TinyViT, GatedCNN])
def converted(request):
    torch.manual_seed(0)
    x = torch.randn(12, 3, 16, 16)
    return ann2snn(request.param().eval(), [x], calib_steps=2).snn, x


def test_every_executor_agrees_spike_for_spike(converted) -> None:
    snn, x = converted
    report = parity(snn, [(x, None)], BACKENDS, T=[1, 5], require="spikes=1.0")
    ran = {r.backend for r in report.rows if r.status == "ok"}
    assert ran == set(BACKENDS), [(r.backend, r.reason) for r in report.rows]
    assert report.passed, report.failures


def test_lava_and_nir_refuse_the_ops_by_name_and_say_why(converted) -> None:
    snn, _ = converted
    for registry in (LAVA, NIR):
        text = "; ".join(registry.problems(snn))
        assert "(BipolarIF): a bipolar burst neuron (up to 64 spikes" in text
        assert "(RunningMean): a non-spiking op on accumulated values" in text
