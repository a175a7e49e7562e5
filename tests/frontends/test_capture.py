"""Capture: torch.fx → IR for sequential, nested, functional and residual models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sjconvert.errors import CaptureError, UnsupportedOpError
from sjconvert.exec import Simulator
from sjconvert.frontends import capture
from sjconvert.ir import nodes as ir


def _ops(g) -> list[str]:
    return [node.op for _, node in g]


def _assert_same(model: nn.Module, x: torch.Tensor) -> None:
    g = capture(model, x)
    with torch.no_grad():
        want = model.eval()(x)
    got = Simulator(g).rate(x)[g.outputs[0]]
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding="same", bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(y)))


class Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU())
        self.blocks = nn.ModuleList([Block(6), Block(6)])
        self.side = nn.Conv2d(6, 2, 1)
        self.pool = nn.AdaptiveAvgPool2d(2)
        self.drop = nn.Dropout(0.3)
        self.fc = nn.Linear(8 * 2 * 2, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
        x = torch.cat([x, F.relu(self.side(x))], dim=1)
        x = F.avg_pool2d(self.pool(x).contiguous(), 1)
        return self.fc(self.drop(x.view(x.size(0), -1)))


def _randomise_bn(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    return model.eval()


def test_sequential_cnn_matches_model() -> None:
    model = _randomise_bn(
        nn.Sequential(
            nn.Conv2d(1, 4, 3),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(4 * 3 * 3, 10),
            nn.ReLU(),
            nn.Identity(),
            nn.Linear(10, 3),
        )
    )
    x = torch.randn(5, 1, 8, 8)
    g = capture(model, x)
    assert _ops(g) == [
        "Input",
        "Conv2d",
        "BatchNorm",
        "ReLU",
        "AvgPool2d",
        "Flatten",
        "Linear",
        "ReLU",
        "Identity",
        "Linear",
    ]
    assert g.shapes[g.outputs[0]] == (3,)
    _assert_same(model, x)


def test_nested_functional_residual_concat_matches_model() -> None:
    model = _randomise_bn(Functional())
    x = torch.randn(3, 3, 8, 8)
    g = capture(model, x)
    ops = _ops(g)
    assert ops.count("Add") == 2 and ops.count("Concat") == 1
    assert "AvgPool2d" in ops and "Flatten" in ops and "Dropout" in ops
    add = next(n for n, node in g if node.op == "Add")
    assert len(g.edges[add]) == 2
    _assert_same(model, x)


def test_conv1d_residual_and_reshape() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv1d(2, 4, 5, padding=2, stride=1)
            self.bn = nn.BatchNorm1d(4)
            self.p = nn.MaxPool1d(2)
            self.fc = nn.Linear(4 * 8, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.p(F.relu(self.bn(self.c(x))))
            y = y.reshape(-1, 4, 8).reshape(y.shape[0], 32)
            return self.fc(torch.flatten(y, 1))

    model = _randomise_bn(Net())
    x = torch.randn(4, 2, 16)
    g = capture(model, x)
    assert "MaxPool1d" in _ops(g) and "BatchNorm" in _ops(g)
    _assert_same(model, x)


def test_multiple_unsupported_nodes_reported_at_once() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.ELU(), nn.Linear(4, 4), nn.Softplus())
    with pytest.raises(UnsupportedOpError) as info:
        capture(model, torch.randn(2, 4))
    msg = str(info.value)
    assert msg.startswith("Sequential: cannot capture 1 ELU, 1 Softplus; at 1 (ELU), 3 (Softplus)")
    assert "supported_ops" in msg and "\n" not in msg


def test_unsupported_function_is_named() -> None:
    class Net(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.exp(x) + 1.0

    with pytest.raises(UnsupportedOpError, match=r"Net: cannot capture 1 exp; at exp \(exp\)"):
        capture(Net(), torch.randn(2, 3))  # refused from the trace alone, before running

    class Shift(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(x) + 1.0

    with pytest.raises(UnsupportedOpError, match=r"1 add \(adds a constant"):
        capture(Shift(), torch.randn(2, 3))


def test_data_dependent_control_flow_is_a_capture_error() -> None:
    class Net(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x if x.sum() > 0 else -x

    with pytest.raises(CaptureError, match="control flow"):
        capture(Net(), torch.randn(2, 3))


def test_wrong_example_shape_is_a_capture_error() -> None:
    with pytest.raises(CaptureError, match="failed on the example input"):
        capture(nn.Linear(4, 2), torch.randn(2, 5))


def test_parameters_are_copied_as_float32_arrays() -> None:
    lin = nn.Linear(3, 2)
    g = capture(nn.Sequential(lin), torch.randn(1, 3))
    node = g.nodes[next(n for n, nd in g if nd.op == "Linear")]
    assert isinstance(node, ir.Linear) and node.weight.dtype == np.float32
    np.testing.assert_array_equal(node.weight, lin.weight.detach().numpy())
    with torch.no_grad():
        lin.weight.add_(1.0)  # the IR must not alias the model's tensors
    assert not np.array_equal(node.weight, lin.weight.detach().numpy())


@pytest.mark.parametrize("keepdim", [False, True])
def test_global_mean_becomes_average_pooling(keepdim: bool) -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(2, 4, 3, padding=1)
            self.fc = nn.Linear(4, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = F.relu(self.c(x)).mean((2, 3), keepdim=keepdim)
            return self.fc(y.flatten(1) if keepdim else y)

    model, x = Net().eval(), torch.randn(3, 2, 5, 6)
    ops = _ops(capture(model, x))
    assert ops[3] == "AvgPool2d" and ops.count("Flatten") == 1  # flatten(1) or the mean
    _assert_same(model, x)


def test_mean_over_channels_is_unsupported() -> None:
    class Net(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.mean(1)

    with pytest.raises(UnsupportedOpError, match="only over spatial axes"):
        capture(Net(), torch.randn(2, 3, 4))


class Shuffle(nn.Module):
    """ShuffleNet v2's block: chunk, channel shuffle (view → transpose → contiguous → view),
    in-place ReLU and ``+=``."""

    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(2, 2, 3, padding=1)
        self.r = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = x.chunk(2, dim=1)
        y = torch.cat((a, self.r(self.c(b))), dim=1)
        n, c, h, w = y.size()
        y = y.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, -1, h, w)
        y += x
        return F.relu(y, inplace=True)


class Pools(nn.Module):
    """Every pooling form torchvision uses, in module and functional form."""

    def __init__(self) -> None:
        super().__init__()
        self.ceil = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.dil = nn.MaxPool2d(3, 1, padding=1, dilation=2)
        self.avg = nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False)
        self.up = nn.AdaptiveAvgPool2d((7, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.avg(self.dil(self.ceil(x)))
        y = (
            F.avg_pool2d(y, 2, 1, 1, False, True, 3)[..., 1:]
            + F.max_pool2d(y, 2, 1, 1, 1, True)[..., 1:]
        )
        return torch.cat([self.up(y), F.adaptive_avg_pool2d(y, 3)], 2)


class Family(nn.Module):
    """ReLU-family activations, dropouts, in-place ops, slicing, permute and means."""

    def __init__(self) -> None:
        super().__init__()
        self.c = nn.Conv2d(3, 6, 1)
        self.acts = nn.ModuleList(
            [
                nn.ReLU6(),
                nn.Hardtanh(0.0, 2.0),
                nn.Threshold(0.0, 0.0),
                nn.Dropout3d(),
                nn.AlphaDropout(),
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.c(x)
        for a in self.acts:
            y = a(y)
        y = F.dropout(y, 0.3, training=False) + torch.clamp(y, min=0.0, max=1.5)
        y.add_(torch.clip(y, 0, 3).relu_())
        z = y[:, 1:5].permute(0, 2, 3, 1)
        z = F.threshold(z, 0.0, 0.0) * 0.5
        return z.mean(-1) + z[..., 0] / 4 + torch.mean(y, (2,), keepdim=True)[:, :5, 0]


@pytest.mark.parametrize(
    ("model", "shape", "expect"),
    [
        (Shuffle, (3, 4, 6, 6), {"Slice": 2, "Transpose": 1, "Reshape": 2, "Add": 1}),
        (Pools, (2, 3, 20, 20), {"MaxPool2d": 3, "AdaptiveAvgPool2d": 2, "AvgPool2d": 2}),
        (Family, (2, 3, 5, 5), {"ReLU": 7, "Dropout": 3, "Scale": 2, "Transpose": 1}),
    ],
)
def test_torchvision_ops_capture_exactly(model, shape, expect) -> None:
    net, x = model().eval(), torch.randn(*shape)
    g = capture(net, x)
    ops = _ops(g)
    for op, count in expect.items():
        assert ops.count(op) == count, (op, ops)
    _assert_same(net, x)


def test_in_place_ops_rebind_their_argument() -> None:
    """After ``x.relu_()`` every later read of ``x`` sees the result."""

    class Net(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = x * 2.0
            z = y  # the same tensor: relu_ below changes it too
            y.relu_()
            return torch.cat([y, z], 1)

    net, x = Net().eval(), torch.randn(3, 4)
    assert _ops(capture(net, x)) == ["Input", "Scale", "ReLU", "Concat"]
    _assert_same(net, x)


def test_refusal_counts_kinds_and_names_the_first() -> None:
    class SE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(4, 4, 1)
            self.act = nn.ELU()
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.gate = nn.Softplus()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.act(self.c(x))
            return self.gate(self.pool(y)) * y

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.Sequential(*(SE() for _ in range(3)))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.elu(self.blocks(x))

    with pytest.raises(UnsupportedOpError) as info:
        capture(Net(), torch.randn(2, 4, 6, 6))
    assert str(info.value).startswith(
        "Net: cannot capture 3 ELU, 3 Softplus, 1 elu; first at blocks.0.act (ELU)"
    )
