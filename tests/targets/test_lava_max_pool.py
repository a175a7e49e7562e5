"""Max pooling on Loihi 2: a relay and a ReLU tree per cumulative max pool, checked step for
step against the simulator on integer inputs (where the fixed point is exact), for 2×2 and
3×3 windows, strides 1 and 2, padding and ceil mode as torchvision uses them; the pipeline
latency and the refusal of per-step max pools."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sjconvert.errors import PassError, UnsupportedOpError
from sjconvert.exec import Simulator
from sjconvert.ir import nodes as ir
from sjconvert.targets.lava.build import check_loihi, to_loihi
from sjconvert.targets.lava.fixed_point.simulator import simulate
from sjconvert.targets.lava.formats.layout import from_lava
from sjconvert.targets.lava.lowering import max_trees
from tests.conftest import chain

WINDOWS = [  # (kernel, stride, padding, ceil_mode) as torchvision's classifiers pool
    (2, 2, 0, False),
    (3, 2, 1, False),  # ResNet, DenseNet, ShuffleNet stems
    (3, 2, 0, True),  # GoogLeNet, SqueezeNet
    (3, 1, 1, True),  # GoogLeNet's inception branch
    (2, 1, 0, False),
    (3, 1, 0, False),
]


@pytest.mark.parametrize("taps", [1, 2, 3, 4, 9])
def test_the_tree_computes_the_max(taps: int) -> None:
    """The levels' ReLUs and the readout give max over the taps for any signed values."""
    levels, vector = max_trees.tree(taps)
    assert len(levels) == max_trees.levels_needed(taps)
    for x in np.random.default_rng(taps).integers(-50, 50, (20, taps)).astype(float):
        v = x
        for level in levels:
            v = np.maximum(level @ v, 0)
        assert (vector @ v if levels else v[0]) == x.max()


def _pool_net(k: int, s: int, p: int, ceil: bool, size: int, v_init: float) -> ir.Graph:
    """``x → Σ_t → MaxPool → Δ → SignedIF(θ = 1, large bursts)``: the net count after t steps
    is ``max(0, ⌊v_init + max_window Σ x⌋)``."""
    pool = ir.MaxPool2d(k, s, p, ceil)
    neuron = ir.SignedIF(1.0, np.array([v_init, 0.0]), max_spikes=1000)
    return chain((2, size, size), ir.Accumulate(), pool, ir.Difference(), neuron)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    window=st.sampled_from(WINDOWS),
    size=st.integers(4, 9),
    v_init=st.sampled_from([0.0, 0.5]),
    seed=st.integers(0, 2**16),
)
def test_max_pools_run_step_for_step_like_the_simulator(window, size, v_init, seed) -> None:
    """Padded windows read zeros on Loihi where PyTorch reads −∞; with the start membrane
    moved into the relay the neuron after the pool cannot tell the difference."""
    graph = _pool_net(*window, size, v_init)
    x = np.random.default_rng(seed).integers(-20, 21, (3, 2, size, size)).astype(np.float32)
    steps = 3
    exp = to_loihi(graph, steps, x_max=127.0)  # input scale 1: messages are x itself
    pg = exp.graph
    out = pg.output["process"]
    trace = simulate(pg, pg.schedule(pg.encode(x)), record=[out])
    stage = exp.net.latency
    loihi = np.cumsum(trace.spikes[out], 0)[stage : stage + steps]
    ref = Simulator(graph).run(torch.from_numpy(x), T=steps).output  # running means
    counts = ref * torch.arange(1, steps + 1).reshape(-1, 1, 1, 1, 1)
    got = from_lava(loihi, tuple(ref.shape[2:]), lead=2)
    np.testing.assert_array_equal(got, np.rint(counts.numpy()).astype(np.int64))


def test_a_pool_adds_one_step_per_tree_level() -> None:
    """A 2×2 window: relay, two levels, then the neuron: latency 4; a 3×3 one: 1 + 4 + 1."""
    assert to_loihi(_pool_net(2, 2, 0, False, 6, 0.0), 2, x_max=127.0).net.latency == 4
    assert to_loihi(_pool_net(3, 2, 1, False, 6, 0.0), 2, x_max=127.0).net.latency == 6


def test_per_step_max_pools_are_refused_by_name() -> None:
    """A max over each step's spikes (``--maxpool spike``) is refused; a max pool of a
    static value (the input's convolution) is its own running sum and runs."""
    spikes = ir.IF(1.0, None)
    graph = chain((1, 4, 4), spikes, ir.MaxPool2d(2, 2, 0), ir.SignedIF(1.0, 0.5, max_spikes=4))
    with pytest.raises(UnsupportedOpError, match=r"per-step values.*--maxpool cumulative"):
        to_loihi(graph, 2)
    static = chain((1, 4, 4), ir.MaxPool2d(2, 2, 0), ir.SignedIF(1.0, 0.5, max_spikes=4))
    assert to_loihi(static, 2).net.latency == 4


def test_a_padded_pool_of_a_pool_of_counts_runs_through_a_convolution() -> None:
    """GoogLeNet's inception 4a: a padded branch pool over the stage pool's output, read by
    a 1×1 convolution. The stage pool pools spike counts (never negative), so its maxes are
    never negative and the zeros the padding reads never win: no single reader is needed."""
    size, steps = 7, 3
    graph = chain(
        (2, size, size),
        ir.SignedIF(1.0, 0.0, max_spikes=1000),
        ir.Accumulate(), ir.MaxPool2d(3, 2, 0, True), ir.Difference(),
        ir.Accumulate(), ir.MaxPool2d(3, 1, 1, True), ir.Difference(),
        ir.Conv2d(np.eye(2).reshape(2, 2, 1, 1), None, 1, 0),
        ir.SignedIF(1.0, np.array([0.5, 0.0]), max_spikes=1000),
    )  # fmt: skip
    x = np.random.default_rng(5).integers(-20, 21, (3, 2, size, size)).astype(np.float32)
    exp = to_loihi(graph, steps, x_max=127.0)
    relays = [p for p in exp.net.helpers if p.endswith("_relay")]
    assert len(relays) == 2
    pg = exp.graph
    out = pg.output["process"]
    trace = simulate(pg, pg.schedule(pg.encode(x)), record=[out])
    loihi = np.cumsum(trace.spikes[out], 0)[exp.net.latency : exp.net.latency + steps]
    ref = Simulator(graph).run(torch.from_numpy(x), T=steps).output
    counts = ref * torch.arange(1, steps + 1).reshape(-1, 1, 1, 1, 1)
    got = from_lava(loihi, tuple(ref.shape[2:]), lead=2)
    np.testing.assert_array_equal(got, np.rint(counts.numpy()).astype(np.int64))


def test_a_padded_pool_of_signed_values_is_refused_before_quantising() -> None:
    """The input can be negative, so a padded pool of it needs its one reader to absorb the
    padding's zeros; behind a convolution it has none. ``check_loihi`` (what ``to-lava``
    runs on the uncalibrated conversion, before the real one) names the relay."""
    w = np.ones((2, 1, 1, 1))
    graph = chain((1, 4, 4), ir.MaxPool2d(3, 1, 1), ir.Conv2d(w, None, 1, 0), ir.SignedIF(1.0, 0.5))
    with pytest.raises(PassError, match=r"n0_relay: a padded max pool must feed one neuron alone"):
        check_loihi(graph)
