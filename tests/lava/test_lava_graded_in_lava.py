"""The default conversion on Loihi 2, checked against Lava's own simulator: signed IF neurons
with bursts, per-channel thresholds and initial membranes (our ``GradedIF``), cumulative
max pools of every torchvision kind (relay plus Lava ``SigmaDelta`` ReLU trees), a residual
skip balanced by a synaptic delay (our ``DelayConv``), concatenation, a dense layer with a
delay (Lava's ``DelayDense``), and the readout — a Lava ``Sigma`` or a spiking one; a
padded pool of a pool (GoogLeNet), ShuffleNet's channel shuffle and split, and a delay
chain of two relays (a skip of 128 steps)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sjconvert import ann2snn
from sjconvert.targets.lava.build import LoihiExport, to_loihi
from sjconvert.targets.lava.formats.emit_procgraph import procgraph
from sjconvert.targets.lava.lowering.pipeline import balance
from sjconvert.targets.lava.network import MAX_DELAY
from sjconvert.targets.lava.quantising.graded import quantize_graded
from tests.lava.parity import export_parity
from tests.targets.lava_graphs import ShuffleNet, delayed_skip

pytestmark = pytest.mark.lava


class PoolNet(nn.Module):
    """Every max pool torchvision's classifiers use, a residual block and a concat."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.stem = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.pool1 = nn.MaxPool2d(3, 2, 1)  # ResNet's stem: 10 → 5
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.branch = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), nn.Conv2d(4, 3, 1))
        self.side = nn.Conv2d(4, 3, 1)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)  # GoogLeNet: 5 → 2
        self.pool3 = nn.MaxPool2d(2, 2)  # 2 → 1
        self.fc = nn.Linear(6, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.stem(x))
        x = self.relu(self.conv(x) + x)
        x = torch.relu(torch.cat([self.branch(x), self.side(x)], 1))
        return self.fc(torch.flatten(self.pool3(self.pool2(x)), 1))


@pytest.fixture(scope="module")
def data():
    r = np.random.default_rng(0)
    return r.normal(0, 1, (64, 2, 10, 10)).astype(np.float32)


@pytest.mark.parametrize("spiking_output", [False, True])
def test_the_default_conversion_runs_in_lava_spike_for_spike(data, spiking_output, tmp_path):
    snn = ann2snn(PoolNet().eval(), [torch.from_numpy(data)], spiking_output=spiking_output).snn
    exp = to_loihi(snn, 2, x_max=float(np.abs(data).max()))
    table = exp.graph.process_table()
    classes = {p["process"] for p in table.values()}
    assert {"GradedIF", "SigmaDelta"} <= classes
    assert any("DelayConv" in p["synapses"] for p in table.values())
    ours = export_parity(exp, exp.graph.encode(data[:2]), tmp_path)
    stage = exp.net.latency
    assert ours.spikes[exp.graph.output["process"]][stage:].any()
    assert any(np.abs(s).max() > 1 for s in ours.spikes.values())  # bursts or graded values


class FireNet(nn.Module):
    """SqueezeNet 1.0 at 64×64: a ceil-mode pool whose window overhangs (14 → 7) over the
    concatenation of two ReLU branches, read by a convolution and a second branch pair."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(1)
        self.squeeze = nn.Sequential(nn.Conv2d(2, 3, 1), nn.ReLU())
        self.left = nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU())
        self.right = nn.Sequential(nn.Conv2d(3, 2, 3, padding=1), nn.ReLU())
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.head = nn.Sequential(nn.Conv2d(4, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(98, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze(x)
        return self.head(self.pool(torch.cat([self.left(x), self.right(x)], 1)))


def test_an_overhanging_pool_over_a_concat_runs_in_lava(tmp_path):
    """The pooled values are spike counts times each channel's spike value (never
    negative), so the zeros the overhang reads never win and no single reader is needed."""
    x = np.random.default_rng(2).normal(0, 1, (16, 2, 14, 14)).astype(np.float32)
    snn = ann2snn(FireNet().eval(), [torch.from_numpy(x)]).snn
    exp = to_loihi(snn, 2, x_max=float(np.abs(x).max()))
    relays = [p for p in exp.net.helpers if p.endswith("_relay")]
    assert relays
    ours = export_parity(exp, exp.graph.encode(x[:2]), tmp_path)
    assert ours.spikes[exp.graph.output["process"]][exp.net.latency :].any()


def test_channel_shuffle_and_split_run_in_lava(tmp_path):
    """ShuffleNet V2's channel shuffle and split fold into the synapses as selections of
    channels (no population, no hop): Lava agrees with our fixed point spike for spike."""
    x = np.random.default_rng(3).normal(0, 1, (16, 2, 8, 8)).astype(np.float32)
    snn = ann2snn(ShuffleNet().eval(), [torch.from_numpy(x)]).snn
    exp = to_loihi(snn, 2, x_max=float(np.abs(x).max()))
    assert {s.src for s in exp.net.synapses if s.dst == "units_1_1"} == {
        "left_2", "right_4", "units_0_4"
    }  # fmt: skip
    ours = export_parity(exp, exp.graph.encode(x[:2]), tmp_path)
    assert ours.spikes[exp.graph.output["process"]][exp.net.latency :].any()


class InceptionNet(nn.Module):
    """GoogLeNet's inception 4a in small: a stage pool, then a padded branch pool over its
    output read by a 1×1 convolution, beside a 1×1 branch."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(2)
        self.stem = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU())
        self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)  # 8 → 4
        self.branch = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), nn.Conv2d(3, 2, 1))
        self.side = nn.Conv2d(3, 2, 1)
        self.fc = nn.Linear(64, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.stem(x))
        x = torch.relu(torch.cat([self.branch(x), self.side(x)], 1))
        return self.fc(torch.flatten(x, 1))


def test_a_padded_pool_of_a_pool_runs_in_lava(tmp_path):
    x = np.random.default_rng(4).normal(0, 1, (16, 2, 8, 8)).astype(np.float32)
    snn = ann2snn(InceptionNet().eval(), [torch.from_numpy(x)]).snn
    exp = to_loihi(snn, 2, x_max=float(np.abs(x).max()))
    assert len([p for p in exp.net.helpers if p.endswith("_relay")]) == 2
    ours = export_parity(exp, exp.graph.encode(x[:2]), tmp_path)
    assert ours.spikes[exp.graph.output["process"]][exp.net.latency :].any()


def test_a_delay_chain_of_two_relays_runs_in_lava(tmp_path):
    """Four populations whose synapses already wait 63 steps, so the skip ``a → d`` needs
    128 steps: two relays of ``a`` (our ``GradedIF`` behind our ``DelayConv``). Lava agrees
    with our fixed point spike for spike, and ``d = 2·a − a`` sends ``a``'s values, the
    input's ReLU, from its stage on (a relay a step off would not)."""
    net = quantize_graded(balance(delayed_skip((2, 2, 2), MAX_DELAY)), 1.0)
    steps = 2
    exp = LoihiExport(net, procgraph(net, steps), "procgraph", steps)
    table = exp.graph.process_table()
    assert [n for n in table if "_delay" in n] == ["a_delay1", "a_delay2"]
    assert table["a_delay2"]["synapses"] == ["DelayConv"]
    xq = np.random.default_rng(5).integers(-9, 10, (1, 2, 2, 2))
    ours = export_parity(exp, xq, tmp_path)
    out = ours.spikes[exp.graph.output["process"]][net.latency :]
    np.testing.assert_array_equal(
        out.reshape(len(out), -1).sum(1), np.full(steps, np.maximum(xq, 0).sum())
    )
