"""Activations beyond nn.ReLU: functional forms and capped ReLUs (ReLU6, hardtanh, clamp)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sjconvert import ann2snn
from sjconvert.errors import UnsupportedOpError
from sjconvert.exec import Simulator
from sjconvert.frontends import capture
from sjconvert.ir import nodes as ir

FORMS = {
    "nn.ReLU6": (nn.ReLU6(), 6.0),
    "nn.Hardtanh(0, 2)": (nn.Hardtanh(0.0, 2.0), 2.0),
    "F.relu": (F.relu, None),
    "torch.relu": (torch.relu, None),
    "Tensor.relu": (lambda x: x.relu(), None),
    "F.relu6": (F.relu6, 6.0),
    "F.hardtanh(x, 0, 1.5)": (lambda x: F.hardtanh(x, 0.0, 1.5), 1.5),
    "torch.clamp(x, 0, 3)": (lambda x: torch.clamp(x, 0, 3), 3.0),
    "torch.clip(x, min=0)": (lambda x: torch.clip(x, min=0), None),
    "Tensor.clamp(min=0, max=0.5)": (lambda x: x.clamp(min=0, max=0.5), 0.5),
}


class Net(nn.Module):
    def __init__(self, act) -> None:
        super().__init__()
        self.fc1, self.fc2, self.act = nn.Linear(5, 16), nn.Linear(16, 3), act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


@pytest.mark.parametrize("form", list(FORMS))
def test_activation_is_captured_as_a_capped_relu(form: str) -> None:
    act, cap = FORMS[form]
    g = capture(Net(act).eval(), torch.randn(4, 5))
    (relu,) = [n for _, n in g if isinstance(n, ir.ReLU)]
    assert relu.max_value == cap


@pytest.mark.parametrize("form", [f for f, (_, cap) in FORMS.items() if cap is not None])
def test_capped_relu_converts_with_lambda_at_most_the_cap(form: str) -> None:
    """With max-norm conversion the rate model equals the ANN, the cap included: λ = a
    where the ANN exceeds the cap (the IF rate saturates exactly there)."""
    torch.manual_seed(1)
    act, cap = FORMS[form]
    model = Net(act).eval()
    with torch.no_grad():
        model.fc1.weight.mul_(4 * cap)  # most units exceed the cap
    x = torch.rand(64, 5)
    conv = ann2snn(model, [x], mode="max", T=None)
    lam = conv.snn.meta["normalisation"]["lambda"]
    assert max(lam.values()) == pytest.approx(cap)
    got = Simulator(conv.snn).rate(x)[conv.snn.outputs[0]]
    torch.testing.assert_close(got, model(x).detach(), rtol=1e-4, atol=1e-4)
    for granularity in ("layer", "channel"):
        refined = ann2snn(model, [x], T=8, granularity=granularity).snn
        values = refined.meta["normalisation"]["lambda"].values()
        assert all(v <= cap + 1e-6 for vs in values for v in np.atleast_1d(vs))


def test_other_activations_are_reported_by_name_never_skipped() -> None:
    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.elu, self.fc2 = nn.Linear(5, 6), nn.ELU(), nn.Linear(6, 6)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = F.softplus(self.fc2(self.elu(self.fc1(x))))
            return torch.exp(F.leaky_relu(x))

    with pytest.raises(UnsupportedOpError) as info:
        capture(Mixed().eval(), torch.randn(2, 5))
    msg = str(info.value)
    for name in ("ELU", "softplus", "leaky_relu", "exp"):
        assert name in msg


def test_clamp_with_a_nonzero_floor_is_refused_with_its_bounds() -> None:
    with pytest.raises(UnsupportedOpError, match=r"clamp to \[-1"):
        capture(Net(lambda x: torch.clamp(x, -1, 1)).eval(), torch.randn(2, 5))
