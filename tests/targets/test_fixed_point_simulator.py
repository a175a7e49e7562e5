"""The fixed-point simulator's shortcuts change no bit: the two's-complement wrap, a step in
which nothing arrives (computed, or skipped when the model proves it quiet), and a run that
reads only the output and so stops each population once nothing it sends can reach it."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sjconvert.ir import nodes as ir
from sjconvert.targets.lava import run_plan
from sjconvert.targets.lava.build import to_loihi
from sjconvert.targets.lava.fixed_point import neuron_models as neurons
from sjconvert.targets.lava.fixed_point import synapse_models
from sjconvert.targets.lava.fixed_point.simulator import Stopped, last_useful_steps, simulate
from sjconvert.targets.lava.formats.procgraph import ProcGraph
from sjconvert.targets.lava.run_plan import group_size, plan_runs
from tests.conftest import chain
from tests.targets.lava_graphs import snn_dags


@given(
    bits=st.sampled_from([24, 32]),
    values=st.lists(st.integers(-(1 << 40), 1 << 40), min_size=1, max_size=30),
)
def test_wrap_is_the_modular_wrap(bits: int, values: list[int]) -> None:
    x = np.array(values, np.int64)
    half = 1 << (bits - 1)
    np.testing.assert_array_equal(neurons.wrap(x, bits), (x + half) % (2 * half) - half)


def _graded(r: np.random.Generator, shape: tuple[int, ...]) -> dict:
    return {
        "shape": shape,
        "vth": r.integers(1, 5, shape),
        "bias": r.integers(-2, 3, shape) * int(r.integers(0, 2)),  # biased or not
        "v_init": r.integers(0, 3, shape),
        "start": int(r.integers(0, 3)),
        "max_spikes": int(r.integers(1, 4)),
        "negative": int(r.integers(0, 3)),
    }


def _sigma_delta(r: np.random.Generator, shape: tuple[int, ...]) -> dict:
    return {"shape": shape, "vth": int(r.integers(1, 6)), "bias": int(r.integers(-3, 4)),
            "spike_exp": 0, "state_exp": int(r.integers(0, 3)), "act_mode": 1}  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["GradedIF", "SigmaDelta", "Sigma", "LIF"]), seed=st.integers(0, 10**6))
def test_a_step_without_input_is_the_step_with_zero_input(kind: str, seed: int) -> None:
    """``step(None)`` (nothing arrived; quiet models skip the work) gives the messages and
    state of ``step(0)``, over random drives with silent stretches."""
    r = np.random.default_rng(seed)
    shape = (3, 4)
    args = {"GradedIF": _graded, "SigmaDelta": _sigma_delta}.get(kind, lambda r, s: {"shape": s})
    spec = args(r, shape)
    if kind == "LIF":
        spec.update(du=int(r.integers(0, 4096)), dv=int(r.integers(0, 4096)), vth=3)
    a_model, b_model = (neurons.MODELS[kind](spec, 2) for _ in range(2))
    for _ in range(12):
        a = r.integers(-6, 7, (2, *shape)) * int(r.random() < 0.4)
        got = a_model.step(a if a.any() else None)
        want = b_model.step(a)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(a_model.state, b_model.state)


def _read_only_the_output_equals_the_full_run(graph: ir.Graph, x: np.ndarray, steps: int):
    pg = to_loihi(graph, steps, x_max=float(np.abs(x).max())).graph
    xs = pg.schedule(pg.encode(x))
    out = pg.output["process"]
    short, full = simulate(pg, xs, record=[out]), simulate(pg, xs)
    np.testing.assert_array_equal(short.state, full.state)
    np.testing.assert_array_equal(short.spikes[out], full.spikes[out])
    np.testing.assert_array_equal(pg.predict_trace(short), pg.predict_trace(full))
    return pg


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=snn_dags(neuron="soft"), steps=st.integers(1, 4))
def test_reading_only_the_output_changes_nothing_read(case, steps: int) -> None:
    """Random DAGs (residual adds: paths of different lengths, aligned by delays)."""
    graph, r = case
    x = r.uniform(0, 1, (3, *graph.shapes["x"])).astype(np.float32)
    _read_only_the_output_equals_the_full_run(graph, x, steps)


def test_a_max_pool_network_read_at_the_output_runs_the_same() -> None:
    """Max trees (sigma-delta ReLUs), a relay and a padded pool of a pool, with biases."""
    graph = chain(
        (2, 7, 7),
        ir.SignedIF(1.0, 0.0, max_spikes=1000),
        ir.Accumulate(), ir.MaxPool2d(3, 2, 0, True), ir.Difference(),
        ir.Accumulate(), ir.MaxPool2d(3, 1, 1, True), ir.Difference(),
        ir.Conv2d(np.eye(2).reshape(2, 2, 1, 1), np.array([0.3, -0.2]), 1, 0),
        ir.SignedIF(1.0, np.array([0.5, 0.0]), max_spikes=1000),
    )  # fmt: skip
    x = np.random.default_rng(5).integers(-20, 21, (3, 2, 7, 7)).astype(np.float32)
    _read_only_the_output_equals_the_full_run(graph, x, 3)


def test_a_population_stops_when_its_messages_can_no_longer_be_read() -> None:
    """A chain a → b → out with a delay of 2 on the first synapse: a message of ``a`` sent
    at step t reaches b at t + 3 and out at t + 4, so over 10 steps ``a`` matters until
    step 5; an unconnected population never."""

    class Syn:
        def __init__(self, delay: int) -> None:
            self.delay = delay

    syns = {"ab": Syn(2), "bo": Syn(0), "xa": Syn(0)}
    source = {"ab": "a", "bo": "b", "xa": "x"}
    into = {"a": ["xa"], "b": ["ab"], "out": ["bo"], "lone": []}
    until = last_useful_steps(syns, source, into, {"out"}, 10)
    assert until == {"a": 5, "b": 8, "out": 9, "lone": -1}


def _pooled_net() -> ProcGraph:
    """A small process graph (pool and signed neurons) for the run-plan tests."""
    graph = chain((2, 6, 6), ir.AvgPool2d(2, 2, 0), ir.SignedIF(1.0, 0.0, max_spikes=8))
    return to_loihi(graph, 2, x_max=10.0).graph


def test_a_lava_check_holds_at_most_its_message_budget_per_group() -> None:
    """Ten samples per Lava run, fewer where every population's messages of a group (ours
    and Lava's, int32, every step) would pass the budget; never fewer than one."""
    pg = _pooled_net()
    procs = pg.graph["processes"]
    neurons = sum(int(np.prod(procs[p]["args"]["shape"])) for p in pg.populations())
    per_sample = 2 * 4 * 50 * neurons
    assert group_size(pg, 50) == 10
    assert group_size(pg, 50, most=3) == 3
    budget = run_plan.MESSAGE_BUDGET
    try:
        run_plan.MESSAGE_BUDGET = 4 * per_sample + 1
        assert group_size(pg, 50) == 4
        run_plan.MESSAGE_BUDGET = per_sample // 2
        assert group_size(pg, 50) == 1
    finally:
        run_plan.MESSAGE_BUDGET = budget


def test_lava_runs_go_one_per_cpu_while_memory_allows() -> None:
    """Groups are spread evenly over as many runs at once as there are CPUs, samples and
    room in memory; each run on a CPU of its own; one run on one CPU with no room."""
    pg = _pooled_net()
    per_sample = run_plan.message_bytes(pg, 50) * 3 // 2
    per_run = run_plan.run_bytes(pg)
    big = 1 << 40
    plan = plan_runs(pg, 50, 50, cpus=[0, 1, 2, 3], memory=big)
    assert (plan.group, plan.workers, sorted(plan.cpus)) == (10, 4, [0, 1, 2, 3])
    plan = plan_runs(pg, 12, 50, cpus=list(range(16)), memory=big)
    assert (plan.group, plan.workers) == (1, 12) and len(set(plan.cpus)) == 12
    plan = plan_runs(pg, 50, 50, cpus=[0, 1, 2, 3], memory=2 * (per_run + 3 * per_sample))
    assert (plan.group, plan.workers) == (3, 2)
    plan = plan_runs(pg, 5, 50, cpus=[0, 1], memory=0)
    assert (plan.group, plan.workers) == (1, 1)


def test_a_lava_run_counts_the_networks_weights() -> None:
    """Lava holds an artifact's arrays several times over: a network whose weights fill
    the memory one run needs gets fewer runs at once than its processes alone allow."""
    pg = _pooled_net()
    small = run_plan.run_bytes(pg)
    pg.arrays["heavy"] = np.zeros(1 << 20, np.int32)  # 4 MiB of weights
    assert run_plan.run_bytes(pg) == small + run_plan.WEIGHT_COPIES * (4 << 20)
    per_sample = run_plan.message_bytes(pg, 50) * 3 // 2
    memory = 2 * (small + per_sample)  # room for two runs without the weights, one with
    assert plan_runs(pg, 50, 50, cpus=[0, 1], memory=memory).workers == 1
    del pg.arrays["heavy"]
    assert plan_runs(pg, 50, 50, cpus=[0, 1], memory=memory).workers == 2


@settings(max_examples=30, deadline=None)
@given(
    big=st.booleans(),
    shape=st.tuples(st.integers(1, 5), st.integers(1, 700)),
    seed=st.integers(0, 2**16),
)
def test_weights_are_float32_until_a_sum_needs_float64(big, shape, seed):
    """8-bit weights are held in float32 alone, and the float64 copy made on demand and the
    largest fan-in sum (taken by blocks of output units) are the float64 ones."""
    hi = (1 << 30) if big else 128
    w = np.random.default_rng(seed).integers(-hi, hi, shape, dtype=np.int64)
    k = synapse_models._Weights(w.T, (0,))
    assert (k._w64 is None) != big and k.wsum == float(np.abs(w).sum(1).max())
    assert np.array_equal(k.of(torch.float64).numpy(), w.T.astype(np.float64))
    if not big:
        assert k.of(torch.float32).dtype == torch.float32
        assert k.exact_dtype(np.array([1])) == torch.float32


def test_a_set_stop_ends_the_simulation_before_its_next_step() -> None:
    """A check that failed or was interrupted sets its ``stop``: a group still simulating
    ends at its next step instead of running to its end (and holding the exit)."""
    graph = chain((3,), ir.Linear(np.eye(3, dtype=np.float32), None), ir.SignedIF(1.0, 0.5))
    x = np.random.default_rng(0).uniform(0, 1, (2, 3)).astype(np.float32)
    pg = to_loihi(graph, 4, x_max=1.0).graph
    xs = pg.schedule(pg.encode(x))
    stop = threading.Event()
    assert simulate(pg, xs, stop=stop).state.shape[0] == xs.shape[0]  # not set: runs
    stop.set()
    with pytest.raises(Stopped, match="stopped at step 0"):
        simulate(pg, xs, stop=stop)
