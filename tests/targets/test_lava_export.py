"""Lava target without Lava: pooling folds exactly, quantisation limits and refusals, the
NetX file layout, lowering errors that name the node, the fixed-point model's timing."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from sjconvert import ann2snn
from sjconvert.errors import EmitError, InputError, PassError, UnsupportedOpError
from sjconvert.exec import Simulator
from sjconvert.ir import nodes as ir
from sjconvert.targets.lava import lower, write_netx
from sjconvert.targets.lava.export import to_loihi
from sjconvert.targets.lava.fixed_point import VTH_MAX, netx_dense_weights, run
from sjconvert.targets.lava.pool import fuse_avgpool
from sjconvert.targets.lava.quantize import quantize_loihi, voltage_decay
from tests.conftest import load_sample
from tests.targets.lava_graphs import chain


@pytest.fixture(scope="module")
def digits():
    model, test, calib = load_sample("digits")
    return ann2snn(model, [calib["x"][:128]], T=None, v_init=0.0, neuron="if").snn, test


def test_avgpool_folds_exactly(digits):
    snn, test = digits
    fused = fuse_avgpool(snn)
    assert not any(isinstance(n, (ir.AvgPool1d, ir.AvgPool2d)) for _, n in fused)
    x = torch.tensor(test["x"][:64])
    a = Simulator(snn).run(x, T=8)
    b = Simulator(fused).run(x, T=8)
    torch.testing.assert_close(b.output, a.output, atol=1e-4, rtol=1e-4)
    for name, count in a.spikes.items():  # spikes per layer agree to float rounding
        assert abs(b.spikes[name] - count) <= 1e-3 * max(count, 1)


def test_overlapping_pool_is_refused_by_name():
    g = chain((1, 4, 4), ir.AvgPool2d(3, 1, 0), ir.Flatten(), ir.Linear(np.ones((2, 4))))
    with pytest.raises(PassError, match=r"'n0'.*stride = kernel"):
        fuse_avgpool(g)


def test_soft_reset_is_refused_in_exact_mode_and_named(digits):
    snn, _ = digits
    with pytest.raises(PassError, match=r"features_2.*soft reset"):
        quantize_loihi(fuse_avgpool(snn), reset="exact")


def test_quantised_layers_fit_loihi(digits):
    snn, _ = digits
    q, net = to_loihi(snn, steps=16, x_max=1.0, model="cuba")
    for layer in net.layers:
        assert np.abs(layer.weight).max() <= 127
        assert np.abs(layer.weight).max() >= 32  # at most 2 of 8 bits go to the bias range
        assert 0 <= layer.vth <= VTH_MAX
    assert net.layers[-1].vth == VTH_MAX  # the readout never fires
    errors = [f["error"]["weight"] for f in q.meta["loihi"]["layers"].values()]
    assert max(errors) < 0.02


def test_hard_reset_if_quantisation_is_exact_on_integer_weights():
    """Integer weights at threshold: Loihi's ``v > θ_q·2⁶`` equals SpikingJelly's ``v ≥ θ``,
    and each layer lags the reference simulator by one step per synapse."""
    r = np.random.default_rng(3)
    w1, w2 = r.integers(-60, 128, (6, 5)) / 128, r.integers(-60, 128, (4, 6)) / 128
    w1[0, 0] = w2[0, 0] = 127 / 128  # scale 128: exact integer mantissas
    g = chain((5,), ir.Linear(w1), ir.IF(1.0, 0.0), ir.Linear(w2), ir.IF(1.0, 0.0))
    net = lower(quantize_loihi(g, input_scale=1.0, steps=20))
    assert [lay.weight.max() for lay in net.layers] == [127, 127]
    x = r.integers(0, 2, (20, 3, 5)).astype(np.float32)
    ref = Simulator(g).run(torch.tensor(x), T=20, sequence=True)
    ours = run(net, net.encode(x), 22, sequence=True)
    s1 = ours.spikes["n0"][1:21]
    assert s1.sum() == ref.spikes["n1"] > 0
    assert ours.spikes["n2"][2:22].sum() == ref.spikes["n3"] > 0


def test_voltage_decay_is_12_bit():
    assert voltage_decay(2.0) == 2048
    assert voltage_decay(1.0) == 4095


@pytest.mark.parametrize("w", [np.array([[3, -5], [127, -128]]), np.array([[0, 6], [8, 250]])])
def test_netx_dense_weights_are_exact_within_8_bits(w):
    eff, shift = netx_dense_weights(w)
    np.testing.assert_array_equal(eff >> shift, w)


def test_netx_dense_weights_model_lavas_inhibitory_clip():
    """All-negative weights whose minimum NetX scales to −256: Lava's clip to 255 and
    truncation turn −4 into −3 (tests/lava checks Lava agrees)."""
    eff, shift = netx_dense_weights(np.array([[-4, -1]]))
    np.testing.assert_array_equal(eff >> shift, [[-3, -1]])


def test_residual_add_is_refused_by_name():
    from sjconvert import ann2snn
    from tests.conftest import load_sample

    model, _, calib = load_sample("mnist1d")
    snn = ann2snn(model, [calib["x"][:32]], T=None, v_init=0.0, neuron="if").snn
    with pytest.raises(UnsupportedOpError, match=r"cannot express .*\(Add\)"):
        to_loihi(snn, steps=8)


def test_netx_file_layout(digits, tmp_path):
    snn, _ = digits
    _, net = to_loihi(snn, steps=16, model="cuba")
    path = write_netx(net, tmp_path / "digits.net")
    with h5py.File(path) as f:
        types = [f[f"layer/{i}/type"][()].decode() for i in range(len(f["layer"]))]
        assert types == ["input", "conv", "conv", "conv", "flatten", "dense", "dense"]
        np.testing.assert_array_equal(f["layer/0/shape"][()], [1, 8, 8])
        conv = f["layer/1"]
        assert conv["weight"].shape == (16, 1, 3, 3)
        np.testing.assert_array_equal(conv["padding"][()], [1, 1])
        assert conv["neuron/type"][()] == b"CUBA"
        assert conv["neuron/iDecay"][()] == 4096 and conv["neuron/vDecay"][()] == 0
        assert conv["neuron/vThMant"][()] == net.layers[0].vth
        np.testing.assert_array_equal(conv["bias"][()], net.layers[0].bias)
        assert f["layer/6/neuron/vThMant"][()] == VTH_MAX
        assert not f.attrs and not conv.attrs


def test_sigma_delta_layout_and_readout(digits, tmp_path):
    snn, _ = digits
    _, net = to_loihi(snn, steps=8)  # auto: soft-reset IF → sigma-delta
    assert [layer.neuron for layer in net.layers] == ["sdnn"] * 4 + ["sigma"]
    path = write_netx(net, tmp_path / "sdnn.net")
    with h5py.File(path) as f:
        assert f["layer/1/neuron/type"][()] == b"SDNN"
        assert "sigma_output" not in f["layer/1/neuron"]
        assert "sigma_output" in f["layer/6/neuron"] and "bias" not in f["layer/6"]


def test_sigma_delta_keeps_ann_accuracy(digits):
    """Sigma-delta settles on the quantised ANN one step per layer after the input."""
    from sjconvert.targets.lava.verify import predict

    snn, test = digits
    _, net = to_loihi(snn, steps=8)
    x, y = test["x"], test["y"]
    ann = Simulator(snn).rate(torch.tensor(x))[snn.outputs[0]].argmax(-1).numpy()
    res = run(net, net.encode(x), len(net.layers) + 1)
    acc = float(np.mean(predict(net, res) == y))
    assert acc >= float(np.mean(ann == y)) - 0.01


def test_sigma_delta_needs_one_step_per_layer(digits):
    snn, _ = digits
    with pytest.raises(InputError, match="T >= 6"):
        to_loihi(snn, steps=4)


def test_sigma_delta_refuses_an_snn_calibrated_for_a_rate_code() -> None:
    """An ann2snn output tuned for clipped IF rates at T; sigma-delta would compute something
    else, so it is refused with the way out."""
    model, _, calib = load_sample("digits")
    snn = ann2snn(model, [calib["x"][:64]], T=8, neuron="if").snn
    with pytest.raises(EmitError, match=r"calibrated for rate-coded IF neurons at T=8"):
        to_loihi(snn, steps=8)
