"""What Loihi 2 cannot run is refused by name, before any work: the smooth activations,
normalisations, products and accumulated-value ops of the modern conversions (issue 24)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sjconvert import ann2snn
from sjconvert.errors import UnsupportedOpError
from sjconvert.targets.lava.build import to_loihi


class Modern(nn.Module):
    """SiLU, a squeeze-and-excitation product with a sigmoid gate, LayerNorm and GELU."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.gate = nn.Conv2d(4, 4, 1)
        self.norm = nn.LayerNorm([4, 6, 6])
        self.out = nn.Linear(144, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.silu(self.conv(x))
        x = x * torch.sigmoid(self.gate(x.mean((2, 3), keepdim=True)))
        return self.out(nn.functional.gelu(self.norm(x)).flatten(1))


def test_modern_ops_are_refused_by_name_and_why() -> None:
    snn = ann2snn(Modern().eval(), [torch.randn(8, 2, 6, 6)]).snn
    with pytest.raises(UnsupportedOpError) as err:
        to_loihi(snn, 2, x_max=4.0)
    text = str(err.value)
    for name, op in [("silu", "SiLU"), ("sigmoid", "Sigmoid"), ("mul", "Mul")]:
        assert f"'{name}' ({op}): a non-spiking op on accumulated values" in text
    for op in ("LayerNorm", "GELU", "RunningMean"):
        assert f"({op}): a non-spiking op" in text
    assert "(BipolarIF): a bipolar burst neuron" in text
    assert "supported ops: " in text and "MaxPool2d" in text
