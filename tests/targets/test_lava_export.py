"""Lava target without Lava: quantisation limits, exact mappings and refusals (IF, LIF,
ParametricLIF, hard resets), the NetX file layout, the process-graph artifact, the
fixed-point simulator's timing, and the CUBA threshold factor."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from sjconvert import ann2snn
from sjconvert.errors import EmitError, InputError, PassError
from sjconvert.exec import Simulator
from sjconvert.ir import nodes as ir
from sjconvert.targets.lava import ProcGraph, lower, write_netx
from sjconvert.targets.lava.build import to_loihi
from sjconvert.targets.lava.fixed_point.procgraph_reader import read_procgraph
from sjconvert.targets.lava.fixed_point.simulator import simulate
from sjconvert.targets.lava.formats.emit_procgraph import procgraph
from sjconvert.targets.lava.formats.netx_writer import netx_dense_weights
from sjconvert.targets.lava.quantising.cuba import VTH_MAX, quantize_cuba, voltage_decay
from sjconvert.targets.lava.running.twin import unrolled
from sjconvert.targets.lava.threshold_factor import tune_alpha
from tests.conftest import chain, load_sample


@pytest.fixture(scope="module")
def digits():
    model, test, calib = load_sample("digits")
    return ann2snn(model, [calib["x"][:128]], T=None, v_init=0.0, neuron="if").snn, test


def test_quantised_layers_fit_loihi(digits):
    snn, _ = digits
    exp = to_loihi(snn, steps=16, x_max=1.0, model="cuba")
    for s in exp.net.synapses:
        assert 32 <= np.abs(s.weight).max() <= 127  # at most 2 of 8 bits go to the bias
    assert all(0 <= n.vth <= VTH_MAX for n in exp.net.neurons.values())
    assert exp.net.neurons[exp.net.output].vth == VTH_MAX  # the readout never fires
    assert max(f["error"]["weight"] for f in exp.net.facts.values()) < 0.02


@pytest.mark.parametrize("v_reset", [0.0, -0.5, 0.25])
def test_hard_reset_if_is_exact_on_integer_weights(v_reset):
    """Weights on the grid of the threshold: Loihi's ``v > θ_q·2⁶`` equals SpikingJelly's
    ``v ≥ θ`` for any reset value (the membrane is shifted by it), and each layer lags the
    reference simulator by one step per synapse."""
    r = np.random.default_rng(3)
    span = 1.0 - v_reset
    w1, w2 = r.integers(-60, 128, (6, 5)), r.integers(-60, 128, (4, 6))
    w1[0, 0] = w2[0, 0] = 127  # K = 128: the mantissas are the integers themselves
    g = chain(
        (5,),
        ir.Linear(w1 * span / 128),
        ir.IF(1.0, v_reset, v_reset),
        ir.Linear(w2 * span / 128),
        ir.IF(1.0, v_reset, v_reset),
    )
    net = quantize_cuba(lower(g), input_scale=1.0, steps=20)
    assert [int(s.weight.max()) for s in net.synapses] == [127, 127]
    x = r.integers(0, 2, (20, 3, 5)).astype(np.float32)
    ref = Simulator(g).run(torch.tensor(x), T=20, sequence=True)
    pg = procgraph(net, 22)
    ours = simulate(pg, pg.schedule(pg.encode(x), 22, sequence=True))
    assert ours.spikes["n1"][1:21].sum() == ref.spikes["n1"] > 0
    assert ours.spikes["n3"][2:22].sum() == ref.spikes["n3"] > 0


@pytest.mark.parametrize("decay_input", [True, False])
@pytest.mark.parametrize("parametric", [False, True])
def test_lif_and_parametric_lif_map_to_cuba(decay_input, parametric):
    """LIF (τ = 4) and ParametricLIF (decay = 1/τ) with a hard reset below 0: the voltage
    decay is 4096/τ exactly, decay_input divides the synapse by τ, the reset shifts the
    membrane; spikes follow the float network closely (Loihi truncates each decay)."""
    r = np.random.default_rng(1)
    lif = ir.LIF(4.0, 1.0, -0.2, decay_input, -0.2, decay=0.25 if parametric else None)
    lif2 = ir.LIF(4.0, 1.0, -0.2, decay_input, -0.2, decay=0.25 if parametric else None)
    gain = 4.0 if decay_input else 1.0
    g = chain(
        (8,),
        ir.Linear(r.normal(0.3, 0.5, (12, 8)) * gain),
        lif,
        ir.Linear(r.normal(0.2, 0.4, (6, 12)) * gain),
        lif2,
    )
    net = quantize_cuba(lower(g), input_scale=1.0, steps=30)
    facts = net.facts["n1"]
    assert facts["dv"] == 1024 and facts["error"]["decay"] == 0.0
    x = (r.random((30, 16, 8)) < 0.5).astype(np.float32)
    ref = Simulator(g).run(torch.tensor(x), T=30, sequence=True).spikes
    pg = procgraph(net, 31)
    ours = simulate(pg, pg.schedule(pg.encode(x), 31, sequence=True)).spikes
    count = ours["n1"][1:].sum()
    assert 0.97 < count / ref["n1"] < 1.03 and 0.05 < ours["n1"].mean() < 0.7


def test_voltage_decay_is_12_bit():
    assert voltage_decay(0.5) == 2048
    assert voltage_decay(1.0) == 4095


def test_soft_reset_is_refused_in_exact_mode_and_named(digits):
    snn, _ = digits
    with pytest.raises(PassError, match=r"features_2.*soft reset"):
        quantize_cuba(lower(snn), 127.0, 16, reset="exact")


def test_threshold_at_the_reset_is_refused():
    g = chain((3,), ir.Linear(np.ones((2, 3))), ir.IF(0.5, 0.5, 0.5))
    with pytest.raises(PassError, match=r"n1: threshold 0.5 at or below the reset"):
        quantize_cuba(lower(g), 1.0, 8)


@pytest.mark.parametrize("w", [np.array([[3, -5], [127, -128]]), np.array([[0, 6], [8, 250]])])
def test_netx_dense_weights_are_exact_within_8_bits(w):
    eff, shift = netx_dense_weights(w)
    np.testing.assert_array_equal(eff >> shift, w)


def test_netx_dense_weights_model_lavas_inhibitory_clip():
    """All-negative weights whose minimum NetX scales to −256: Lava's clip to 255 and
    truncation turn −4 into −3 (tests/lava checks Lava agrees)."""
    eff, shift = netx_dense_weights(np.array([[-4, -1]]))
    np.testing.assert_array_equal(eff >> shift, [[-3, -1]])


def test_netx_file_layout(digits, tmp_path):
    snn, _ = digits
    exp = to_loihi(snn, steps=16, model="cuba")
    assert exp.format == "netx"
    path = write_netx(exp.net, tmp_path / "digits.net")
    first = exp.net.neurons["features_2"]
    with h5py.File(path) as f:
        types = [f[f"layer/{i}/type"][()].decode() for i in range(len(f["layer"]))]
        assert types == ["input", "conv", "conv", "conv", "flatten", "dense", "dense"]
        np.testing.assert_array_equal(f["layer/0/shape"][()], [1, 8, 8])
        conv = f["layer/1"]
        assert conv["weight"].shape == (16, 1, 3, 3)
        np.testing.assert_array_equal(conv["padding"][()], [1, 1])
        assert conv["neuron/type"][()] == b"CUBA"
        assert conv["neuron/iDecay"][()] == 4096 and conv["neuron/vDecay"][()] == 0
        assert conv["neuron/vThMant"][()] == first.vth
        np.testing.assert_array_equal(conv["bias"][()], first.bias[:, 0, 0])
        assert f["layer/6/neuron/vThMant"][()] == VTH_MAX
        assert not f.attrs and not conv.attrs


def test_sigma_delta_layout_and_readout(digits, tmp_path):
    snn, _ = digits
    exp = to_loihi(snn, steps=8, model="sdnn")
    assert [n.model for n in exp.net.neurons.values()] == ["sdnn"] * 4 + ["sigma"]
    path = write_netx(exp.net, tmp_path / "sdnn.net")
    with h5py.File(path) as f:
        assert f["layer/1/neuron/type"][()] == b"SDNN"
        assert "sigma_output" not in f["layer/1/neuron"]
        assert "sigma_output" in f["layer/6/neuron"] and "bias" not in f["layer/6"]


@pytest.mark.parametrize("fmt", ["netx", "procgraph"])
def test_sigma_delta_keeps_ann_accuracy(digits, fmt):
    """Sigma-delta settles on the quantised ANN one step per synapse after the input."""
    from sjconvert.targets.lava.build import predict_fixed_point

    snn, test = digits
    exp = to_loihi(snn, steps=1, fmt=fmt, model="sdnn")  # the run lasts 1 + the latency
    x, y = test["x"], test["y"]
    ann = Simulator(snn).rate(torch.tensor(x))[snn.outputs[0]].argmax(-1).numpy()
    acc = float(np.mean(predict_fixed_point(exp, x) == y))
    assert acc >= float(np.mean(ann == y)) - 0.01


def test_the_run_lasts_the_input_steps_plus_the_latency(digits):
    """-T counts input steps; the run adds one step per synapse on the longest path."""
    snn, _ = digits
    for model in ("sdnn", "cuba", "graded"):
        exp = to_loihi(snn, steps=4, model=model)
        meta = exp.graph.graph["meta"]
        assert (meta["input_steps"], meta["latency"], meta["steps"]) == (4, 5, 9), model


def test_sigma_delta_refuses_an_snn_calibrated_for_a_rate_code() -> None:
    """An ann2snn output tuned for clipped IF rates at T; sigma-delta would compute something
    else, so it is refused with the way out."""
    model, _, calib = load_sample("digits")
    snn = ann2snn(model, [calib["x"][:64]], T=8, neuron="if").snn
    with pytest.raises(EmitError, match=r"calibrated for rate-coded IF neurons at T=8"):
        to_loihi(snn, steps=8, model="sdnn")


def test_a_residual_net_is_a_process_graph_not_netx(tmp_path):
    model, _, calib = load_sample("mnist1d")
    snn = ann2snn(model, [calib["x"][:64]], T=None, v_init=0.0, neuron="if").snn
    exp = to_loihi(snn, steps=8, model="sdnn")
    assert exp.format == "procgraph"
    with pytest.raises(EmitError, match=r"block1_relu2 reads .*use --format procgraph"):
        write_netx(exp.net, tmp_path / "res.net")
    with pytest.raises(EmitError, match="NetX holds a chain"):
        to_loihi(snn, steps=8, fmt="netx", model="sdnn")
    files = exp.write(tmp_path / "res.lpg.npz")
    names = ["res.lpg.npz", "procgraph_loader.py", "procgraph_processes.py"]
    assert [f.name for f in files] == names
    back = ProcGraph.load(files[0])
    assert back.graph == exp.graph.graph
    assert {k: v.tolist() for k, v in back.arrays.items()} == {
        k: v.tolist() for k, v in exp.graph.arrays.items()
    }


def test_process_graph_layout_is_lavas(digits):
    """Shapes ``(x, y, f)``, flipped Conv kernels, Dense as ``2m`` with exponent −1 read
    through a reshape with its columns in Lava's flattening, graded input synapses."""
    snn, _ = digits
    pg = to_loihi(snn, steps=16, model="cuba", fmt="procgraph").graph
    procs = pg.processes
    assert procs["features_2"]["args"]["shape"] == [8, 8, 16]
    conv = procs["features_0"]["args"]
    assert pg.array(conv["weight"]).shape == (16, 3, 3, 1) and conv["num_message_bits"] == 24
    dense = procs["classifier_1"]["args"]
    assert (dense["weight_exp"], dense["sign_mode"], dense["num_message_bits"]) == (-1, 1, 0)
    assert np.all(pg.array(dense["weights"]) % 2 == 0)
    (conn,) = [c for c in pg.graph["connections"] if c[1] == "classifier_1.s_in"]
    assert conn == ["features_9.s_out", "classifier_1.s_in", {"reshape": [1024]}]


def test_bad_artifacts_are_refused_in_one_line(tmp_path):
    bad = tmp_path / "bad.lpg.npz"
    bad.write_text("not an npz")
    with pytest.raises(InputError, match="not a lava-procgraph file"):
        ProcGraph.load(bad)
    pg = ProcGraph()
    pg.add_input("x", (3,), 1.0, once=False)
    pg.add_neuron("n", "LIF", (2,), vth=10)
    pg.add_dense("d", "x", "n", np.ones((2, 3)), graded=True)
    pg.processes["d"]["args"]["weights"] = "@gone"
    pg.processes["n"]["class"] = "Spooky"
    pg.save(tmp_path / "odd.lpg.npz")
    with pytest.raises(InputError, match=r"unknown class 'Spooky'.*missing array @gone"):
        ProcGraph.load(tmp_path / "odd.lpg.npz")
    with pytest.raises(InputError, match="no such file"):
        ProcGraph.load(tmp_path / "absent.lpg.npz")


def test_threshold_factor_is_picked_on_calibration_data(digits):
    """α < 1 restores the rates a hard reset loses: at T = 16 the plain mapping is far
    below the ANN, the factor picked on calibration samples is not."""
    snn, _ = digits
    _, _, calib = load_sample("digits")
    paths = lower(snn)
    choice = tune_alpha(paths, calib["x"][:100], calib["y"][:100], 16, 127.0, 1.0, (0.6, 1.0))
    assert choice.alpha == 0.6 and choice.accuracy[0.6] > choice.accuracy[1.0] + 0.3


def test_unrolled_twin_computes_the_same(digits):
    """Every convolution as a dense matrix (faster in Lava): the same messages everywhere."""
    snn, test = digits
    pg = to_loihi(snn, steps=10, model="cuba", alpha=0.7, fmt="procgraph").graph
    twin = unrolled(pg)
    assert {p["class"] for p in twin.processes.values()} == {"Dense", "LIF"}
    x = pg.schedule(pg.encode(test["x"][:16]), 10)
    a, b = simulate(pg, x), simulate(twin, x)
    for name, s in a.spikes.items():
        np.testing.assert_array_equal(b.spikes[name], s)
    np.testing.assert_array_equal(b.state, a.state)


def test_the_dry_run_calls_every_process_and_keeps_the_output_only(tmp_path):
    """Reading an artifact runs it on zeros: every process at every step (a broken first
    synapse, many hops before the output, is found), keeping only the output's messages."""
    model, _, calib = load_sample("mnist1d")
    snn = ann2snn(model, [calib["x"][:64]], T=None, v_init=0.0, neuron="if").snn
    pg = to_loihi(snn, steps=8, model="sdnn").graph
    out = pg.output["process"]
    x = pg.schedule(pg.encode(calib["x"][:2]))
    dry = simulate(pg, x, [out], skip_silent=False)
    assert set(dry.spikes) == {out}
    assert np.array_equal(dry.state, simulate(pg, x).state)
    (first,) = [c[1].split(".")[0] for c in pg.graph["connections"] if c[0] == "input:x"]
    key = pg.processes[first]["args"]["weight"][1:]
    pg.arrays[key] = pg.arrays[key][: len(pg.arrays[key]) // 2]  # half its output channels
    pg.save(tmp_path / "broken.lpg.npz")
    with pytest.raises(InputError, match="does not run"):
        read_procgraph(tmp_path / "broken.lpg.npz")
