"""ReLU → IF conversion with weight/threshold normalisation."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from sjconvert import ann2snn
from sjconvert.errors import PassError
from sjconvert.exec import Simulator
from sjconvert.frontends import capture
from sjconvert.ir import nodes as ir
from sjconvert.passes import PREPARE, calibrate, relu_to_if, replace_maxpool, run_pipeline


class Res(nn.Module):
    """Residual net whose skip path crosses layers with different λ."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv1d(1, 6, 3, padding=1)
        self.c1 = nn.Conv1d(6, 6, 3, padding=1)
        self.c2 = nn.Conv1d(6, 6, 3, padding=1)
        self.bn = nn.BatchNorm1d(6)
        self.pool = nn.AvgPool1d(2)
        self.fc = nn.Linear(6 * 8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.stem(x))
        y = self.bn(self.c2(F.relu(self.c1(x))))
        x = self.pool(F.relu(x + y))
        return self.fc(torch.flatten(x, 1))


def _cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 8),
        nn.ReLU(),
        nn.Linear(8, 3),
    ).eval()


def _prepared(model: nn.Module, x: torch.Tensor):
    g = run_pipeline(capture(model, x), PREPARE)
    relus = [n for n, node in g if isinstance(node, ir.ReLU)]
    return g, relus, calibrate(g, [x[:16], x[16:]], relus)


@pytest.mark.parametrize("make,shape", [(_cnn, (32, 1, 8, 8)), (lambda: Res().eval(), (32, 1, 16))])
def test_rate_model_of_converted_graph_equals_ann_with_max_norm(make, shape) -> None:
    model = make()
    x = torch.rand(shape) * 2
    g, relus, stats = _prepared(model, x)
    snn = relu_to_if(g, stats, "max")
    with torch.no_grad():
        want = model(x)
    got = Simulator(snn).rate(x)[snn.outputs[0]]
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    assert not any(isinstance(n, ir.ReLU) for _, n in snn)
    ifs = [node for _, node in snn if isinstance(node, ir.IF)]
    assert len(ifs) == len(relus) and all(n.v_threshold == 1.0 and n.v_reset is None for n in ifs)
    assert isinstance(snn.nodes[snn.outputs[0]], ir.Readout)
    lam = snn.meta["normalisation"]["lambda"]
    for r in relus:
        assert lam[r] == pytest.approx(stats[r].max)


def test_residual_skip_gets_scale_and_input_graph_is_untouched() -> None:
    x = torch.rand(32, 1, 16)
    g, _relus, stats = _prepared(Res().eval(), x)
    before = {n: node for n, node in g}
    snn = relu_to_if(g, stats, "max")
    assert any(isinstance(n, ir.Scale) for _, n in snn)
    assert all(g.nodes[n] is before[n] for n in before)
    assert any(isinstance(n, ir.ReLU) for _, n in g)


def test_percentile_gives_smaller_lambda_than_max() -> None:
    x = torch.rand(64, 1, 8, 8) * 2
    g, relus, stats = _prepared(_cnn(), x)
    lam_max = relu_to_if(g, stats, "max").meta["normalisation"]["lambda"]
    lam_p = relu_to_if(g, stats, "99%").meta["normalisation"]["lambda"]
    lam_s = relu_to_if(g, stats, 0.5).meta["normalisation"]["lambda"]
    for r in relus:
        assert lam_p[r] < lam_max[r]
        assert lam_s[r] == pytest.approx(0.5 * lam_max[r])


def test_snn_output_converges_to_ann_with_more_steps() -> None:
    model = _cnn()
    x = torch.rand(32, 1, 8, 8)
    conv = ann2snn(model, [x], mode="max", T=None)
    res = Simulator(conv.snn).run(x, T=256)
    with torch.no_grad():
        want = model(x)
    err = [(res.output[t - 1] - want).abs().mean().item() for t in (8, 64, 256)]
    assert err[0] > err[1] > err[2] and err[2] < 0.05 * want.abs().mean().item()


def test_maxpool_policies() -> None:
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * 3 * 3, 2)
    ).eval()
    x = torch.rand(8, 1, 8, 8)
    with pytest.raises(PassError, match=r"max pooling at '_2' \(module 2\) .*--maxpool avg"):
        ann2snn(model, [x], maxpool="error")
    avg = ann2snn(model, [x], maxpool="avg").snn
    assert any(isinstance(n, ir.AvgPool2d) for _, n in avg)
    assert not any(isinstance(n, ir.MaxPool2d) for _, n in avg)
    spike = ann2snn(model, [x], maxpool="spike").snn
    assert any(isinstance(n, ir.MaxPool2d) for _, n in spike)
    pre = ann2snn(model, [x]).snn  # default: the pool moves before the neuron
    order = [type(n) for _, n in pre]
    assert order.index(ir.MaxPool2d) < order.index(ir.SignedIF)


def test_pool_before_relu_keeps_the_ann_function() -> None:
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(48, 2)
    ).eval()
    x = torch.randn(8, 1, 8, 8)
    g = run_pipeline(capture(model, x), PREPARE)
    pre = replace_maxpool(g, "pre")
    assert [type(n).__name__ for _, n in pre][1:4] == ["Conv2d", "MaxPool2d", "ReLU"]
    torch.testing.assert_close(Simulator(pre).rate(x)[pre.outputs[0]], model(x).detach())


def test_spiking_output_keeps_last_relu_as_neuron() -> None:
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3), nn.ReLU()).eval()
    x = torch.rand(16, 4)
    default = ann2snn(model, [x]).snn
    assert sum(n.spiking for _, n in default) == 1
    spiking = ann2snn(model, [x], spiking_output=True).snn
    assert sum(n.spiking for _, n in spiking) == 2
    assert isinstance(spiking.nodes[spiking.outputs[0]], ir.Readout)


@settings(max_examples=20, deadline=None)
@given(
    widths=st.lists(st.integers(1, 8), min_size=1, max_size=3),
    residual=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_random_mlps_keep_their_function_in_rate_mode(widths, residual, seed) -> None:
    """Max-normalised conversion, calibrated on the evaluation data, is exact in rate mode."""
    torch.manual_seed(seed)

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            dims = [5, *widths]
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(dims))
            self.skip = nn.Linear(5, widths[-1])
            self.head = nn.Linear(widths[-1], 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = x
            for layer in self.layers:
                h = F.relu(layer(h))
            if residual:
                h = F.relu(h + F.relu(self.skip(x)))
            return self.head(h)

    model = MLP().eval()
    x = torch.rand(64, 5) * 3
    # layer-wise rate norm, or channel-wise λ (from the same data) without T-specific fixes
    options = [{"T": None}, {"T": 4, "search": False, "bias": False, "granularity": "channel"}][
        seed % 2
    ]
    conv = ann2snn(model, [x[:32], x[32:]], mode="max", **options)
    with torch.no_grad():
        want = model(x)
    got = Simulator(conv.snn).rate(x)[conv.snn.outputs[0]]
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("log", [False, True])
def test_softmax_at_the_output_is_dropped_and_reported(log: bool) -> None:
    head = nn.LogSoftmax(dim=1) if log else nn.Softmax(dim=-1)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3), head).eval()
    x = torch.rand(32, 4)
    conv = ann2snn(model, [x], mode="max", T=None)
    assert not any(isinstance(n, ir.Softmax) for _, n in conv.snn)
    assert conv.snn.meta["dropped"] == ["_3 (Softmax, argmax unchanged)"]
    logits = Simulator(conv.snn).rate(x)[conv.snn.outputs[0]]
    with torch.no_grad():
        assert torch.equal(logits.argmax(1), model(x).argmax(1))
        torch.testing.assert_close(logits, model[:3](x), rtol=1e-4, atol=1e-4)


def test_softmax_inside_the_network_is_an_op_on_running_means() -> None:
    """A softmax inside the network converts (issue 22): on the direct input it is computed
    once, and its output reaches the next synapse as bipolar spikes; the rate model is the
    ANN."""
    model = nn.Sequential(nn.Linear(4, 6), nn.Softmax(dim=1), nn.Linear(6, 3)).eval()
    x = torch.rand(8, 4)
    snn = ann2snn(model, [x], mode="max", T=None).snn
    kinds = {type(n) for _, n in snn}
    assert {ir.Softmax, ir.BipolarIF} <= kinds and ir.RunningMean not in kinds
    torch.testing.assert_close(Simulator(snn).rate(x)[snn.outputs[0]], model(x).detach())


class _ScaledSkip(nn.Module):
    """A residual block whose skip is multiplied by a constant (as stochastic-depth-style or
    rescaled residual nets do): captured as a Scale node, which conversion passes λ through."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.head = nn.Linear(5, 6), nn.Linear(6, 6), nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.a(x))
        return self.head(torch.relu(self.b(h) + 0.5 * h))


@pytest.mark.parametrize("granularity", ["layer", "channel"])
def test_constant_scales_in_the_ann_convert_exactly(granularity: str) -> None:
    model = _ScaledSkip().eval()
    x = torch.rand(64, 5) * 2
    conv = ann2snn(model, [x], mode="max", T=None, granularity=granularity)
    assert any(isinstance(n, ir.Scale) for _, n in conv.ann)
    with torch.no_grad():
        want = model(x)
    got = Simulator(conv.snn).rate(x)[conv.snn.outputs[0]]
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
