"""NetX files written by sjconvert (h5py only) run in Lava's fixed-point Loihi 2 simulator
with exactly the spikes and voltages our fixed-point simulator predicts: every layer, every
step, every neuron. Lava runs are small (few samples and steps) to keep the suite fast."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from sjconvert.targets.lava import lower, write_netx
from sjconvert.targets.lava.build import LoihiExport, to_loihi
from sjconvert.targets.lava.formats.emit_procgraph import procgraph
from sjconvert.targets.lava.network import LoihiNet, Neuron, Synapse
from sjconvert.targets.lava.quantising.cuba import quantize_cuba
from sjconvert.targets.lava.quantising.sigma_delta import NETX_SPIKE_EXP, quantize_sdnn
from tests.lava.parity import assert_parity, export_parity
from tests.targets.lava_graphs import conv_dense_net, snn_chains

pytestmark = pytest.mark.lava


def netx_parity(net: LoihiNet, xq: np.ndarray, steps: int, path) -> None:
    write_netx(net, path)
    pg = procgraph(net, steps, netx=True)
    assert_parity(pg, path, pg.schedule(xq, steps))


def test_conv_dense_bias_decay(tmp_path):
    r = np.random.default_rng(0)
    net = conv_dense_net(r)
    write_netx(net, tmp_path / "net.net")
    pg = procgraph(net, 12, netx=True)
    ours = assert_parity(pg, tmp_path / "net.net", pg.schedule(r.integers(0, 30, (2, 2, 6, 5)), 12))
    rate = ours.spikes["c"].mean()
    assert 0.05 < rate < 0.7, "inputs must make the conv layer spike, but not saturate"


def _dense(w: np.ndarray, vth: int, bias: int = 0) -> LoihiNet:
    n = w.shape[0]
    neuron = Neuron("cuba", vth=vth, bias=np.full(n, bias))
    syn = Synapse("d", "x", "o", "dense", w)
    return LoihiNet("x", (w.shape[1],), 1.0, {"o": (n,)}, {"o": neuron}, (syn,), "o")


def test_large_activations_are_not_truncated(tmp_path):
    """Dense sums beyond 16 bits reach the neuron unchanged (no int16 wrap)."""
    w = np.full((2, 40), 127)
    w[1, 0] = -128
    netx_parity(_dense(w, 131071), np.full((1, 40), 100), 4, tmp_path / "big.net")


def test_inhibitory_only_weights_follow_lavas_clip(tmp_path):
    """NetX scales [-4, -1] to [-256, -64]; Lava clips 256 to 255 and truncates: the
    effective weight is -3 (``netx_dense_weights``), which Lava's voltages confirm."""
    net = _dense(np.array([[-4, -1], [-2, -1]]), 1000, bias=40)
    netx_parity(net, np.array([[1, 1]]), 6, tmp_path / "inh.net")


@pytest.mark.parametrize("model", ["cuba", "sdnn"])
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=snn_chains())
def test_random_chains(model, case, tmp_path_factory):
    graph, r = case
    paths = lower(graph)
    if model == "cuba":
        net = quantize_cuba(paths, input_scale=60.0, steps=10, x_max=1.0)
    else:
        net = quantize_sdnn(paths, input_scale=60.0, spike_exp=NETX_SPIKE_EXP)
    exp = LoihiExport(net, procgraph(net, 10, netx=True), "netx", 10)
    x = exp.graph.encode(r.uniform(0, 1, (2, *net.input_shape)))
    export_parity(exp, x, tmp_path_factory.mktemp("chain"))


@pytest.mark.parametrize("model", ["cuba", "sdnn"])
def test_converted_digits_cnn(model, tmp_path):
    """The bundled digits CNN (ann2snn, avg pooling folded, biases, readout) on 3 samples,
    as CUBA (hard reset) or sigma-delta neurons: every layer's messages and the readout's
    voltage (sigma) are equal in Lava and our simulator."""
    from sjconvert import ann2snn
    from tests.conftest import load_sample

    model_, test, calib = load_sample("digits")
    snn = ann2snn(model_, [calib["x"][:128]], T=None, v_init=0.0, neuron="if").snn
    exp = to_loihi(snn, steps=10, model=model, fmt="netx", alpha=0.7)
    ours = export_parity(exp, exp.graph.encode(test["x"][:3]), tmp_path)
    assert ours.spikes["features_2"].any()
