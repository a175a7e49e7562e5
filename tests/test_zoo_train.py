"""The zoo trainer's generic recipe: a zero classifier and exact batch-norm statistics.

Both are what let torchvision's EfficientNet-B0 and RegNetY-400MF train at 32x32
(``samples/zoo/train.py``); these tests pin the two helpers on small models.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest
import torch
from torch import nn

pytestmark = pytest.mark.interop  # samples.zoo.train imports torchvision


@pytest.fixture
def train() -> ModuleType:
    """The trainer, imported only where the test runs (the interop group has torchvision;
    other groups deselect these tests by their mark, so nothing is skipped there)."""
    return importlib.import_module("samples.zoo.train")


def test_zero_classifier_zeroes_the_last_linear_only(train: ModuleType) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    first = model[0].weight.clone()
    train.zero_classifier(model)
    assert torch.equal(model[0].weight, first)
    assert not model[2].weight.any() and not model[2].bias.any()
    x = torch.randn(5, 4)
    loss = nn.functional.cross_entropy(model(x), torch.zeros(5, dtype=torch.long))
    assert loss.item() == pytest.approx(torch.log(torch.tensor(3.0)).item())


def test_recompute_bn_is_exact_and_keeps_dropout_off(train: ModuleType) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Dropout(0.5), nn.BatchNorm1d(3, momentum=0.9))
    x = torch.randn(600, 3) * 2 + 1
    train.recompute_bn(model, x, batch_size=200)
    bn = model[1]
    assert not model.training and bn.momentum == 0.9
    # Cumulative average of the three batch means; dropout off: the inputs' own mean.
    assert torch.allclose(bn.running_mean, x.mean(0), atol=1e-5)
    batch_vars = torch.stack([x[i : i + 200].var(0) for i in (0, 200, 400)])
    assert torch.allclose(bn.running_var, batch_vars.mean(0), atol=1e-5)
