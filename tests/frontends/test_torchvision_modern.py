"""torchvision's modern classifier classes in small configurations (the zoo's, issue 22)
capture and convert: every IR value stays at rank 4 with the batch axis, and the rate model
of the converted network equals the ANN. ``benchmarks/zoo.py`` runs every full-size
classifier the same way."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

from samples.zoo.modern import FACTORIES
from sjconvert import ann2snn
from sjconvert.exec import Simulator
from sjconvert.frontends import capture

MODELS = [*FACTORIES, "mobilenet_v3_small"]  # EfficientNet, RegNetY: benchmarks/zoo.py


def _build(name: str) -> nn.Module:
    torch.manual_seed(0)
    if name in FACTORIES:
        model = FACTORIES[name]()
    else:
        model = torchvision.models.get_model(name, weights=None, num_classes=10)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Linear) and not m.weight.any():  # ViT's zero head
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


@pytest.mark.parametrize("name", MODELS)
def test_modern_classifier_converts_with_its_rate_model_equal_to_the_ann(name) -> None:
    model = _build(name)
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    ann = capture(model, x[:2])
    assert max(len(s) for s in ann.shapes.values()) <= 3
    snn = ann2snn(ann, [x], mode="max", T=None).snn
    with torch.no_grad():
        want = model(x)
    got = Simulator(snn).rate(x)[snn.outputs[0]]
    scale = max(1.0, float(want.abs().max()))
    assert float((got - want).abs().max()) <= 1e-4 * scale
    assert float(want.abs().max()) > 0  # not a vacuous comparison
