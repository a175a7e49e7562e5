"""NetX files written by sjconvert (h5py only) run in Lava's fixed-point Loihi 2 simulator
with exactly the spikes and voltages our fixed-point simulator predicts: every layer, every
step, every neuron. Lava runs are small (few samples and steps) to keep the suite fast."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from sjconvert.targets.lava import lower, write_netx
from sjconvert.targets.lava.fixed_point import LoihiLayer, LoihiNet, run
from sjconvert.targets.lava.quantize import quantize_loihi
from sjconvert.targets.lava.run import run_netx
from sjconvert.targets.lava.sdnn import quantize_sdnn
from tests.targets.lava_graphs import conv_dense_net, snn_chains

pytestmark = pytest.mark.lava


def assert_parity(net: LoihiNet, x: np.ndarray, steps: int, path) -> None:
    """Lava's spikes and last-layer voltage equal the fixed-point simulator's exactly."""
    write_netx(net, path)
    ours = run(net, x, steps)
    lava = run_netx(path, net.schedule(x, steps), steps)
    assert len(lava.spikes) == len(ours.spikes)
    for (name, mine), theirs in zip(ours.spikes.items(), lava.spikes, strict=True):
        assert theirs.shape == mine.shape, name
        np.testing.assert_array_equal(theirs, mine, err_msg=f"layer {name}")
    np.testing.assert_array_equal(lava.voltage, ours.voltage)


def test_conv_dense_bias_decay(tmp_path):
    r = np.random.default_rng(0)
    net = conv_dense_net(r)
    x = r.integers(0, 30, (2, 2, 6, 5))
    ours = run(net, x, 12)
    rate = ours.spikes["conv"].mean()
    assert 0.05 < rate < 0.7, "inputs must make the conv layer spike, but not saturate"
    assert_parity(net, x, 12, tmp_path / "net.net")


def test_large_activations_are_not_truncated(tmp_path):
    """Dense sums beyond 16 bits reach the neuron unchanged (no int16 wrap)."""
    w = np.full((2, 40), 127)
    w[1, 0] = -128
    net = LoihiNet((40,), (LoihiLayer("d", "dense", w, (40,), (2,), vth=131071),))
    x = np.full((1, 40), 100)
    assert_parity(net, x, 4, tmp_path / "big.net")


def test_inhibitory_only_weights_follow_lavas_clip(tmp_path):
    """NetX scales [-4, -1] to [-256, -64]; Lava clips 256 to 255 and truncates: the
    effective weight is -3 (``netx_dense_weights``), which Lava's voltages confirm."""
    w = np.array([[-4, -1], [-2, -1]])
    bias = np.array([40, 40])
    net = LoihiNet((2,), (LoihiLayer("d", "dense", w, (2,), (2,), vth=1000, bias=bias),))
    assert_parity(net, np.array([[1, 1]]), 6, tmp_path / "inh.net")


@pytest.mark.parametrize("model", ["cuba", "sdnn"])
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=snn_chains())
def test_random_chains(model, case, tmp_path_factory):
    graph, r = case
    if model == "cuba":
        q = quantize_loihi(graph, input_scale=60.0, steps=10, x_max=1.0)
    else:
        q = quantize_sdnn(graph, input_scale=60.0)
    net = lower(q)
    x = net.encode(r.uniform(0, 1, (1, *net.input_shape)))
    assert_parity(net, x, 10, tmp_path_factory.mktemp("chain") / "net.net")


@pytest.mark.parametrize("model", ["cuba", "sdnn"])
def test_converted_digits_cnn(model, tmp_path):
    """The bundled digits CNN (ann2snn, avg pooling folded, biases, readout) on 2 samples,
    as CUBA (hard reset) or sigma-delta neurons: every layer's messages and the readout's
    voltage (sigma) are equal in Lava and our simulator."""
    from sjconvert import ann2snn
    from sjconvert.targets.lava.export import to_loihi
    from tests.conftest import load_sample

    _, test, calib = load_sample("digits")
    snn = ann2snn(load_sample("digits")[0], [calib["x"][:128]], T=None, v_init=0.0, neuron="if").snn
    _, net = to_loihi(snn, steps=10, model=model)
    x = net.encode(test["x"][:2])
    assert run(net, x, 10).spikes["features_0"].any()
    assert_parity(net, x, 10, tmp_path / "digits.net")
