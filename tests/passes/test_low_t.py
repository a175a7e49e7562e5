"""Anytime accuracy: the mechanisms of the default conversion, each on its own (exact
properties) and on the samples (monotone in T, near the ANN from T = 4 on)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sjconvert import ann2snn, simulate
from sjconvert.exec import Simulator
from sjconvert.exec.arrays import run_node
from sjconvert.ir import nodes as ir
from sjconvert.passes._scales import rescale_weights
from sjconvert.passes.pools import accumulate_pools
from tests.conftest import chain, load_sample

STEPS = (1, 2, 4, 8, 16, 32, 64)


def _tie(v: float) -> bool:
    return min(v % 1, 1 - v % 1) < 1e-4


@settings(max_examples=60, deadline=None)
@given(x=st.floats(0.0, 1.0), T=st.integers(1, 32), burst=st.integers(1, 4))
def test_half_threshold_start_rounds_and_bursts_multiply_the_levels(x, T, burst) -> None:
    """A constant input ``x·B`` (``x ∈ [0, 1]``) fires ``round(B·T·x)`` spikes in T steps
    from ``V = θ/2`` (``⌊B·T·x⌋`` from 0): ``B·T + 1`` levels."""
    if _tie(burst * T * x + 0.5) or _tie(burst * T * x):
        return  # within float rounding of a tie
    current = torch.tensor([[burst * x]], dtype=torch.float32)
    for v0, want in ((0.5, math.floor(burst * T * x + 0.5)), (0.0, math.floor(burst * T * x))):
        node = ir.SignedIF(1.0, v0, max_spikes=burst)
        s, _ = run_node(node, current, T, static=True)
        assert int(s.sum()) == want
        if burst == 1:
            s_if, _ = run_node(ir.IF(1.0, None, v0), current, T, static=True)
            assert int(s_if.sum()) == want


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), T=st.integers(1, 24), burst=st.integers(1, 3))
def test_signed_neuron_tracks_the_relu_of_its_cumulative_input(seed, T, burst) -> None:
    """Whatever order the input arrives in (|X| ≤ B·θ per step), the net count after t steps
    is ``max(0, ⌊V0 + Σ X⌋)``; the plain IF cannot take back a spike and over-fires."""
    r = np.random.default_rng(seed)
    x = torch.tensor(r.uniform(-burst, burst, (T, 64)) * 0.99, dtype=torch.float32)
    s, _ = run_node(ir.SignedIF(1.0, 0.5, max_spikes=burst), x, T, static=False)
    want = torch.clamp(torch.floor(0.5 + x.double().cumsum(0)), min=0)
    ok = torch.isclose(s.double().cumsum(0), want) | _near_integer(0.5 + x.double().cumsum(0))
    assert bool(ok.all())


def _near_integer(v: torch.Tensor) -> torch.Tensor:
    return (v - v.round()).abs() < 1e-5


def test_cumulative_max_pooling_pools_spike_counts() -> None:
    """After every step the summed output of the wrapped pool is the max pooling of the
    neurons' net spike counts so far."""
    g = chain((2, 4, 4), ir.SignedIF(1.0, 0.5), ir.MaxPool2d(2, 2, 0), ir.Readout())
    wrapped = accumulate_pools(g)
    assert [n.op for _, n in wrapped][1:5] == ["SignedIF", "Accumulate", "MaxPool2d", "Difference"]
    x = torch.randn(12, 3, 2, 4, 4)
    res = run_node(ir.SignedIF(1.0, 0.5), x, 12, static=False)[0]
    counts = res.cumsum(0).reshape(-1, 2, 4, 4)
    want = torch.nn.functional.max_pool2d(counts, 2).reshape(12, 3, 2, 2, 2)
    out = Simulator(wrapped).run(x, T=12, sequence=True).output  # running means
    t = torch.arange(1, 13, dtype=torch.float32).reshape(-1, 1, 1, 1, 1)
    torch.testing.assert_close(out * t, want)


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


def _accuracy(name: str, n_test: int, steps=STEPS, **options) -> tuple[dict[int, float], float]:
    model, test, calib = load_sample(name)
    conv = ann2snn(model, [torch.tensor(calib["x"])], **options)
    data = [(test["x"][:n_test], test["y"][:n_test])]
    res = simulate(conv.snn, data, T=list(steps), ann=conv.ann)
    assert res.ann is not None
    return res.snn, res.ann


@pytest.mark.parametrize("name", ["digits", "mnist1d"])
def test_default_conversion_is_good_at_every_T(name) -> None:
    """Monotone in T (within two test samples), converging to the ANN, within 3 points of
    it at T = 4 and within 1 point from T = 8 on."""
    acc, ann = _accuracy(name, 1000)
    noise = 2 / min(1000, len(load_sample(name)[1]["y"]))
    for a, b in itertools.pairwise(STEPS):
        assert acc[b] >= acc[a] - noise, acc
    assert acc[4] >= ann - 0.03 and all(acc[t] >= ann - 0.01 for t in STEPS[3:]), acc
    assert abs(acc[64] - ann) <= noise, acc


def test_each_mechanism_helps_on_mnist1d() -> None:
    """Signed neurons, then bursts, each raise the short-T accuracy of the residual net."""
    plain = {"T": None, "neuron": "if", "maxpool": "pre"}
    acc_if, _ = _accuracy("mnist1d", 600, (2, 4), **plain)
    acc_signed, _ = _accuracy("mnist1d", 600, (2, 4), **{**plain, "neuron": "signed", "burst": 1})
    acc_burst, _ = _accuracy("mnist1d", 600, (2, 4), **{**plain, "neuron": "signed", "burst": 4})
    assert acc_signed[4] > acc_if[4] + 0.05
    assert acc_burst[2] > acc_signed[2] + 0.05


def test_cumulative_pooling_helps_the_vgg_sample() -> None:
    """Max pools of spike-driven currents: the per-step max over-fires, the cumulative one
    does not (signed neurons, T = 8)."""
    kw = {"T": None, "burst": 1}
    pre, _ = _accuracy("digits16", 360, (8,), maxpool="pre", **kw)
    cumulative, _ = _accuracy("digits16", 360, (8,), maxpool="cumulative", **kw)
    assert cumulative[8] > pre[8] + 0.02
