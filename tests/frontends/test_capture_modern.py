"""Capture and conversion of the ops of modern classifiers written with torch alone:
attention, layer norm, smooth activations, gated products, a class token and a position
embedding entering the graph as parameters. The rate model of the converted network equals
the ANN; the conversion runs with its defaults."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sjconvert import ann2snn
from sjconvert.errors import UnsupportedOpError
from sjconvert.exec import Simulator
from sjconvert.exec.workload import workload
from sjconvert.frontends import capture
from sjconvert.ir import nodes as ir


class TinyViT(nn.Module):
    """Patches, a class token, a position embedding, one pre-norm block, the head."""

    def __init__(self, dim: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 4, 4)
        self.cls = nn.Parameter(torch.randn(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, 17, dim) * 0.1)
        self.ln1, self.ln2, self.ln = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        y = self.ln1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        x = x + self.mlp(self.ln2(x))
        return self.head(self.ln(x)[:, 0])


class GatedCNN(nn.Module):
    """SiLU, squeeze-and-excitation with a sigmoid gate, hardswish, a layer scale."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.fc1, self.fc2 = nn.Conv2d(8, 4, 1), nn.Conv2d(4, 8, 1)
        self.scale = nn.Parameter(torch.rand(8, 1, 1) + 0.5)
        self.head = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.silu(self.conv(x))
        y = nn.functional.hardswish(self.dw(x))
        gate = torch.sigmoid(self.fc2(nn.functional.relu(self.fc1(y.mean((2, 3), keepdim=True)))))
        x = x + self.scale * (y * gate)
        return self.head(torch.tanh(x).mean((2, 3)))


@pytest.mark.parametrize("make", [TinyViT, GatedCNN])
def test_capture_and_rate_model_equal_the_ann(make) -> None:
    torch.manual_seed(0)
    model = make().eval()
    x = torch.randn(8, 3, 16, 16)
    ann = capture(model, x[:2])
    snn = ann2snn(ann, [x], mode="max", T=None).snn
    got = Simulator(snn).rate(x)[snn.outputs[0]]
    with torch.no_grad():
        want = model(x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert any(isinstance(n, ir.BipolarIF) for _, n in snn)
    out = Simulator(snn).run(x, T=3).output
    assert torch.isfinite(out).all()


def test_attention_becomes_rank_four_products_and_a_softmax() -> None:
    torch.manual_seed(0)
    g = capture(TinyViT().eval(), torch.randn(2, 3, 16, 16))
    ops = [n.op for _, n in g]
    assert ops.count("MatMul") == 2 and ops.count("Softmax") == 1
    assert ops.count("Constant") == 2  # the class token and the position embedding
    assert max(len(s) for s in g.shapes.values()) <= 3  # per sample: rank 4 with the batch


def test_default_conversion_runs_and_every_synapse_after_the_first_is_spike_driven() -> None:
    torch.manual_seed(0)
    model = TinyViT().eval()
    x = torch.randn(32, 3, 16, 16)
    snn = ann2snn(model, [x]).snn
    kinds = workload(snn).kinds
    synapses = [n for n, node in snn if node.synapse]
    assert kinds[synapses[0]] == "static"  # the patch embedding reads the input
    assert all(kinds[n] == "spike-driven" for n in synapses[1:])
    assert {kinds[n] for n, node in snn if isinstance(node, ir.MatMul)} == {"dense"}
    res = Simulator(snn).run(x[:4], T=4)
    assert torch.isfinite(res.output).all() and res.spikes


def test_unsupported_attention_is_refused_by_name() -> None:
    class CrossAttention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = nn.MultiheadAttention(4, 1, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.attn(x, x * 2, x, need_weights=False)[0]

    with pytest.raises(UnsupportedOpError, match=r"MultiheadAttention.*self-attention"):
        capture(CrossAttention().eval(), torch.randn(2, 3, 4))
