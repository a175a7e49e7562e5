"""Low-T conversion: half-threshold start, channel-wise λ, threshold search, bias correction."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from sjconvert import ann2snn, simulate
from sjconvert.exec import Simulator
from sjconvert.ir import nodes as ir
from sjconvert.passes import PREPARE, run_pipeline
from sjconvert.passes._scales import rescale_weights
from sjconvert.passes.refine import calibrate_layer, record, spike_rate
from tests.conftest import load_sample


@settings(max_examples=60, deadline=None)
@given(x=st.floats(0.0, 1.0), T=st.integers(1, 32))
def test_half_threshold_start_rounds_instead_of_flooring(x: float, T: int) -> None:
    """A constant input x ∈ [0, 1] fires round(T·x) times from V = θ/2, floor(T·x) from 0."""
    frac = T * x + 0.5 - math.floor(T * x + 0.5)
    if min(frac, 1 - frac) < 1e-4 or min(T * x % 1, 1 - T * x % 1) < 1e-4:
        return  # within float rounding of a tie
    current = torch.tensor([[x]], dtype=torch.float32)
    half = spike_rate(current, False, T, 0.5) * T
    zero = spike_rate(current, False, T, 0.0) * T
    assert round(float(half)) == math.floor(T * x + 0.5)
    assert round(float(zero)) == math.floor(T * x)


@settings(max_examples=30, deadline=None)
@given(
    out_ch=st.integers(1, 3),
    in_per_group=st.integers(1, 3),
    groups=st.integers(1, 3),
    seed=st.integers(0, 1000),
)
def test_channelwise_rescaling_of_grouped_conv(out_ch, in_per_group, groups, seed) -> None:
    """Ŵ x̂ + b̂ with x̂ = x/λ_in equals (W x + b)/λ_out per output channel."""
    r = np.random.default_rng(seed)
    w = r.normal(size=(out_ch * groups, in_per_group, 3)).astype(np.float32)
    b = r.normal(size=out_ch * groups).astype(np.float32)
    lin = r.uniform(0.5, 2, in_per_group * groups)
    lout = r.uniform(0.5, 2, out_ch * groups)
    w2, b2 = rescale_weights(w, b, lin, lout, groups)
    x = torch.randn(2, in_per_group * groups, 7)
    conv = torch.nn.functional.conv1d
    want = conv(x, torch.tensor(w), torch.tensor(b), groups=groups) / torch.tensor(lout)[:, None]
    xs = x / torch.tensor(lin, dtype=torch.float32)[:, None]
    got = conv(xs, torch.tensor(w2), torch.tensor(b2), groups=groups)
    torch.testing.assert_close(got, want.float(), rtol=1e-4, atol=1e-4)


def test_threshold_search_and_bias_correction_reduce_the_layer_error() -> None:
    """On a static current with a known target, each step lowers the rate error at T=4."""
    torch.manual_seed(0)
    a = torch.relu(torch.randn(256, 4, 5) * torch.tensor([0.5, 1, 2, 4])[:, None])
    lam = np.array([a[:, c].max().item() for c in range(4)]).reshape(4, 1)
    current = a / torch.tensor(lam, dtype=torch.float32) + 0.02 * torch.randn_like(a)
    plain = calibrate_layer(current, False, a, lam, 4, 0.5, True, search=False, bias=False)
    searched = calibrate_layer(current, False, a, lam, 4, 0.5, True, search=True, bias=False)
    both = calibrate_layer(current, False, a, lam, 4, 0.5, True, search=True, bias=True)
    assert plain[2]["mse_after"] == pytest.approx(plain[2]["mse_before"])
    assert searched[2]["mse_after"] < 0.9 * plain[2]["mse_after"]
    assert both[2]["mse_after"] < plain[2]["mse_after"]
    assert both[1].abs().max() > 0  # a bias shift was found
    grid = (0.3, 0.4, 0.5, 0.6)
    chosen = calibrate_layer(current, False, a, lam, 4, 0.5, True, v_grid=grid)
    assert chosen[2]["v_init"] in grid
    assert chosen[2]["mse_after"] <= both[2]["mse_after"] + 1e-9  # 0.5 is in the grid
    assert (searched[0] < 1).all()  # clipping the rare largest values pays at T=4


def _layer_errors(snn, ann, x, T) -> float:
    """Mean over neuron layers of the held-out rate error λ·rate_T − ANN activation."""
    lam = snn.meta["normalisation"]["lambda"]
    acts = Simulator(ann).rate(x)
    errs = []
    for n, node in snn:
        if isinstance(node, ir.IF) and n in acts:
            current, temporal = record(snn, snn.edges[n][0], x, T)
            lt = torch.tensor(
                np.broadcast_to(
                    np.asarray(lam[n]).reshape(-1, *[1] * (x.ndim - 2))
                    if np.ndim(lam[n])
                    else lam[n],
                    acts[n].shape[1:],
                ).copy()
            )
            est = spike_rate(current, temporal, T, node.v_init) * lt.float()
            errs.append(float(((est - acts[n]) ** 2).mean() / (acts[n] ** 2).mean()))
    return float(np.mean(errs))


@pytest.fixture(scope="module")
def mnist1d():
    return load_sample("mnist1d")


@pytest.mark.parametrize(
    "weaker,stronger",
    [
        ({"search": False, "bias": False}, {"search": True, "bias": False}),
        ({"search": True, "bias": False}, {"search": True, "bias": True}),
    ],
    ids=["threshold-search", "bias-correction"],
)
def test_each_correction_lowers_the_held_out_rate_error(mnist1d, weaker, stronger) -> None:
    model, test, calib = mnist1d
    x_test = torch.tensor(test["x"][:256])
    calib_x = [torch.tensor(calib["x"][:256])]
    errs = []
    for options in (weaker, stronger):
        conv = ann2snn(model, calib_x, T=4, **{"v_search": False, **options})
        errs.append(_layer_errors(conv.snn, run_pipeline(conv.ann, PREPARE), x_test, 4))
    assert errs[1] < errs[0]


@pytest.mark.parametrize("name,floor", [("digits", 0.985), ("mnist1d", 0.975)])
def test_default_conversion_meets_the_low_T_targets(name, floor) -> None:
    model, test, calib = load_sample(name)
    conv = ann2snn(model, [torch.tensor(calib["x"])])
    assert conv.snn.meta["normalisation"]["target_T"] == 8
    res = simulate(conv.snn, [(test["x"], test["y"])], T=[4, 8], ann=conv.ann)
    assert res.snn[8] >= floor, res.snn
    assert res.ann is not None and res.snn[8] >= res.ann - 0.01
    assert res.snn[4] >= res.ann - 0.03


def test_refinement_keeps_a_plain_if_network(mnist1d) -> None:
    model, _, calib = mnist1d
    snn = ann2snn(model, [torch.tensor(calib["x"][:128])], T=4, granularity="channel").snn
    ifs = [n for _, n in snn if isinstance(n, ir.IF)]
    assert ifs and all(n.v_threshold == 1.0 and 0.0 <= n.v_init < 1.0 for n in ifs)
    assert all(n.v_reset is None for n in ifs)
    lam = snn.meta["normalisation"]["lambda"]
    assert any(isinstance(v, list) for v in lam.values())  # channel-wise λ


def test_small_model_without_biases_gets_them(tmp_path) -> None:
    model = nn.Sequential(nn.Linear(6, 8, bias=False), nn.ReLU(), nn.Linear(8, 3)).eval()
    x = torch.rand(64, 6)
    conv = ann2snn(model, [x], T=4)
    (fc,) = [n for n, node in conv.snn if isinstance(node, ir.Linear) and node.weight.shape[0] == 8]
    assert conv.snn.nodes[fc].bias is not None
    assert conv.snn.meta["normalisation"]["layers"]["_1"]["bias_into"] == "_0"
