"""The layer-wise calibration engine: linear in depth, bounded memory, progress, the reduce
hook, and what its fits do."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch import nn

from sjconvert import ann2snn
from sjconvert.passes import PREPARE, calibrate, run_pipeline, statistic
from sjconvert.passes.layerwise import ANYTIME, Plan, Setting, calibrate_layers
from sjconvert.passes.layerwise.fit import Choice, fit_layer
from sjconvert.passes.layerwise.store import Stored


def _deep(depth: int, width: int = 8) -> nn.Module:
    torch.manual_seed(depth)
    layers: list[nn.Module] = [nn.Conv1d(2, width, 3, padding=1), nn.ReLU()]
    for _ in range(depth - 1):
        layers += [nn.Conv1d(width, width, 3, padding=1), nn.ReLU()]
    layers += [nn.Flatten(), nn.Linear(width * 16, 4)]
    return nn.Sequential(*layers).eval()


def _convert(model: nn.Module, x: torch.Tensor, **kw):
    return ann2snn(model, [x], **kw)


@pytest.mark.parametrize("depth", [3, 12])
def test_each_node_runs_a_fixed_number_of_times_whatever_the_depth(depth) -> None:
    """No prefix is simulated again: every node of the SNN runs once per chunk for the fit
    and at most once more to fire (ANN nodes: once per chunk)."""
    x = torch.randn(96, 2, 16)
    conv = _convert(_deep(depth), x, refine_samples=96)
    cal = conv.calibration
    assert cal is not None
    nodes = sum(1 for _, n in conv.snn if n.op != "Input")
    chunks = 1  # 96 samples fit one chunk
    assert cal.counters["ann_nodes"] <= chunks * nodes
    assert cal.counters["snn_nodes"] <= 2 * chunks * nodes
    assert cal.counters["layer_runs"] == chunks * depth  # each neuron layer fires once


class _Dense(nn.Module):
    """A DenseNet block: every layer reads the concatenation of all features before it."""

    def __init__(self, layers: int, growth: int = 4) -> None:
        super().__init__()
        torch.manual_seed(layers)
        self.stem = nn.Conv1d(2, growth, 3, padding=1)
        self.convs = nn.ModuleList(
            nn.Conv1d(growth * (k + 1), growth, 3, padding=1) for k in range(layers)
        )
        self.head = nn.Linear(growth * (layers + 1) * 16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [self.stem(x)]
        for conv in self.convs:
            features.append(conv(torch.relu(torch.cat(features, 1))))
        return self.head(torch.relu(torch.cat(features, 1)).flatten(1))


def _layer_calibration(model: nn.Module, x: torch.Tensor, **plan):
    ann = run_pipeline(ann2snn(model, [x], T=None).ann, PREPARE)
    relus = [n for n, node in ann if node.op == "ReLU"]
    lam0 = {n: statistic(s, "99.9%") for n, s in calibrate(ann, [x], relus).items()}
    return calibrate_layers(ann, x, lam0, Plan(Setting("signed", 4, 4, ANYTIME), **plan))


def test_concatenated_features_are_carried_not_computed_again() -> None:
    """DenseNet's features are read by every later layer of the block: they are computed
    once per chunk and carried (no node runs twice), and the result is that of computing
    them again for every reader (``keep_bytes=0`` carries nothing)."""
    x = torch.randn(64, 2, 16)
    snn, _, carried = _layer_calibration(_Dense(6), x)
    _, _, again = _layer_calibration(_Dense(6), x, keep_bytes=0)
    nodes = sum(1 for _, n in snn if n.op != "Input")
    assert carried.counters["snn_nodes"] <= nodes < again.counters["snn_nodes"]
    assert carried.counters["ann_nodes"] <= nodes < again.counters["ann_nodes"]
    for name, fit in again.layers.items():
        np.testing.assert_array_equal(carried.layers[name].threshold, fit.threshold)
        np.testing.assert_array_equal(carried.layers[name].v_init, fit.v_init)


def test_memory_does_not_grow_with_depth() -> None:
    """The engine holds one layer boundary (spikes as bits, the ANN's activations) and one
    layer's kept rows: a net 8 times deeper needs the same peak."""
    x = torch.randn(128, 2, 16)
    peaks = [
        _convert(_deep(d), x, refine_samples=128).calibration.counters["peak_bytes"]
        for d in (4, 32)
    ]
    assert peaks[1] <= 1.05 * peaks[0]


def test_progress_names_every_layer_in_order() -> None:
    x = torch.randn(64, 2, 16)
    calls: list[tuple[str, int, int]] = []
    conv = _convert(_deep(3), x, layer_progress=lambda *a: calls.append(a))
    layers = [n for n, node in conv.snn if node.spiking] + list(conv.snn.outputs)
    assert [c[0] for c in calls] == layers
    assert [c[1] for c in calls] == list(range(1, len(layers) + 1))
    assert {c[2] for c in calls} == {len(layers)}


class _ThreadSum:
    """An all-reduce across threads: each call of every thread returns the sum of that
    call's tensors over all threads (what ``torch.distributed.all_reduce`` does)."""

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties)
        self.parts: dict[int, list[torch.Tensor]] = {}
        self.calls = threading.local()
        self.lock = threading.Lock()

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        k = getattr(self.calls, "k", 0)
        self.calls.k = k + 1
        with self.lock:
            self.parts.setdefault(k, []).append(t.clone())
        self.barrier.wait()
        total = sum(self.parts[k][1:], self.parts[k][0].clone())
        self.barrier.wait()
        return total


def test_the_reduce_hook_merges_two_shards_into_one_run() -> None:
    model = _deep(3)
    x = torch.randn(128, 2, 16)
    ann = run_pipeline(ann2snn(model, [x], T=None).ann, PREPARE)
    relus = [n for n, node in ann if node.op == "ReLU"]
    stats = calibrate(ann, [x], relus)
    lam0 = {n: statistic(stats[n], "99.9%") for n in relus}
    plan = Plan(Setting("signed", 4, 8, ANYTIME, bias=True))
    _, _, whole = calibrate_layers(ann, x, lam0, plan)
    reduce = _ThreadSum(2)
    found: dict[int, object] = {}

    def shard(k: int) -> None:
        found[k] = calibrate_layers(
            ann, x[k * 64 : (k + 1) * 64], lam0, plan, reduce=reduce, samples=128
        )[2]

    threads = [threading.Thread(target=shard, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for cal in found.values():
        for name, fit in whole.layers.items():
            got = cal.layers[name]  # type: ignore[attr-defined]
            np.testing.assert_allclose(got.threshold, fit.threshold, rtol=1e-5)
            np.testing.assert_allclose(got.v_init, fit.v_init, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(got.shift, fit.shift, rtol=1e-4, atol=1e-6)


def test_spike_trains_are_stored_as_bit_planes() -> None:
    s = torch.randint(-4, 5, (8, 3, 5, 7)).float()
    st = Stored.spikes(s, torch.full((1, 1, 5, 1), 0.5))
    torch.testing.assert_close(st.read(), s * 0.5)
    assert st.nbytes <= s.numel() // 2  # 3 magnitude bits and a sign bit per value


def _layer(T: int, seed: int = 0, late: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """A layer whose ANN activation is z and whose input current fluctuates around the
    ANN's pre-activation; with ``late``, the first step brings only ``1 − late`` of it."""
    g = torch.Generator().manual_seed(seed)
    pre = torch.randn(512, 6, generator=g) * 0.4 + 0.2
    z = pre.clamp(min=0)
    x = pre + 0.1 * torch.randn(T, 512, 6, generator=g)
    x[0] -= late * pre
    return x, z


def test_the_fading_correction_takes_back_an_error_that_fades() -> None:
    """Current that arrives late leaves a deficit ``c`` in the cumulative input: the rate is
    short by ``c/t``. A larger initial membrane repays it: the error at short T falls and
    the error at long T does not grow."""
    x, z = _layer(8, late=0.6)
    base, cap = torch.full((6,), 1.5), torch.full((6,), float("inf"))
    plain = Setting("signed", 1, 8, ANYTIME, search=False, bias=False, fading=False)
    fading = Setting("signed", 1, 8, ANYTIME, search=False, bias=False, fading=True)
    c0, r0 = fit_layer(plain, x, False, z, base, cap, lambda t: t)
    c1, r1 = fit_layer(fading, x, False, z, base, cap, lambda t: t)
    assert r0["mse_after"] == pytest.approx(r0["mse_before"])
    assert bool((c1.v > c0.v).all()) and torch.equal(c1.beta, c0.beta)
    for t in ("1", "2", "4"):
        assert r1["mse_after"][t] < 0.95 * r1["mse_before"][t]
    assert r1["mse_after"]["64"] <= 1.5 * r1["mse_before"]["64"]


def test_a_correction_is_kept_only_where_it_helps() -> None:
    """Without a fading error the fitted membrane shift is noise: the guard keeps the
    objective over all T at most what it was."""
    x, z = _layer(8, seed=3)
    base, cap = torch.full((6,), 1.5), torch.full((6,), float("inf"))
    fading = Setting("signed", 1, 8, ANYTIME, search=False, bias=True, fading=True)
    _, r = fit_layer(fading, x, False, z, base, cap, lambda t: t)
    after = sum(np.log(v + 1e-9) for v in r["mse_after"].values())
    before = sum(np.log(v + 1e-9) for v in r["mse_before"].values())
    assert after <= before + 1e-6


def test_a_target_T_fits_threshold_and_bias_for_that_T() -> None:
    x, z = _layer(4, seed=1)
    z = z * 2.0  # the threshold base 1.5 now clips: the search finds a larger one
    base, cap = torch.full((6,), 1.5), torch.full((6,), float("inf"))
    off = Setting("signed", 1, 4, (4,), search=False, bias=False, fading=False)
    on = Setting("signed", 1, 4, (4,), search=True, bias=True, fading=False)
    _, r_off = fit_layer(off, x, False, z, base, cap, lambda t: t)
    c_on, r_on = fit_layer(on, x, False, z, base, cap, lambda t: t)
    assert r_on["mse_after"]["4"] < 0.8 * r_off["mse_after"]["4"]
    assert not torch.equal(c_on.theta, base) and bool((c_on.beta > 0).all())
    assert isinstance(c_on, Choice)
