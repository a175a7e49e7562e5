"""Delay chains: a synapse that needs more than Loihi 2's 63 steps of delay to balance the
pipeline (DenseNet's skips across a dense block) leaves from a relay of its source, 64
steps per relay; the lowering emits the chain and the fixed point runs it step for step
like the simulator's zero-latency network (Lava against our fixed point on a chain of two
relays: ``tests/lava/test_lava_graded_in_lava.py``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sjconvert.errors import UnsupportedOpError
from sjconvert.exec import Simulator
from sjconvert.ir import nodes as ir
from sjconvert.targets.lava.build import to_loihi
from sjconvert.targets.lava.fixed_point.simulator import simulate
from sjconvert.targets.lava.lowering.pipeline import HOP, balance
from sjconvert.targets.lava.network import MAX_DELAY, Paths, Population, Synapse
from sjconvert.targets.lava.quantising.graded import quantize_graded
from tests.targets.lava_graphs import DagBuilder, delayed_skip


def _skip_chain(depth: int, src: str = "p0") -> Paths:
    """Input → p0 → … → p{depth-1}, plus skips ``src`` → p{depth-1} and p0 → p{depth-2}:
    from p0 their delays are depth − 2 and depth − 3."""
    node = ir.IF(1.0, None, 0.0)
    pops = {f"p{i}": Population(f"p{i}", node, (2,), np.zeros(2)) for i in range(depth)}
    syn = [
        Synapse(f"s{i}", f"p{i - 1}" if i else "x", f"p{i}", "dense", np.eye(2))
        for i in range(depth)
    ]
    syn.append(Synapse("skip", src, f"p{depth - 1}", "dense", 0.5 * np.eye(2)))
    syn.append(Synapse("skip2", "p0", f"p{depth - 2}", "dense", 0.5 * np.eye(2)))
    return Paths("x", (2,), pops, tuple(syn), f"p{depth - 1}")


@pytest.mark.parametrize(
    ("delay", "relays", "left"),
    [(MAX_DELAY, 0, MAX_DELAY), (HOP, 1, 0), (2 * HOP - 1, 1, MAX_DELAY), (2 * HOP, 2, 0),
     (2 * HOP + 5, 2, 5)],
)  # fmt: skip
def test_a_long_delay_goes_through_a_chain_of_relays(delay, relays, left):
    """Relay ``j`` sits 64·j steps after its source (63 of delay, one hop), the synapse
    leaves from relay ⌊D / 64⌋ with the rest; one chain serves every long synapse of the
    source, and no other population's stage or the latency changes."""
    plain = _skip_chain(delay + 2)
    paths = balance(plain)
    chain = [n for n in paths.populations if n.startswith("p0_delay")]
    assert chain == [f"p0_delay{j}" for j in range(1, relays + 1)]
    syn = {s.name: s for s in paths.synapses}
    assert (syn["skip"].src, syn["skip"].delay) == (chain[-1] if chain else "p0", left)
    stages = paths.stages()
    for j, name in enumerate(chain, 1):
        assert paths.populations[name].role == "relay"
        link = syn[f"{name}_in"]
        assert (link.delay, link.exact) == (MAX_DELAY, True)
        assert stages[name] == stages["p0"] + HOP * j
    assert all(s.delay <= MAX_DELAY for s in paths.synapses)
    assert {n: stages[n] for n in plain.stages()} == plain.stages()
    assert paths.latency == plain.stages()[plain.output]
    quantize_graded(paths, 127.0)  # every relay has a graded form


def test_a_long_delay_from_the_input_is_refused_by_name():
    with pytest.raises(UnsupportedOpError, match=r"skip: the input → p\d+ needs a delay"):
        balance(_skip_chain(HOP + 2, src="x"))


def test_the_delays_a_synapse_has_are_kept():
    """Four populations whose synapses already wait 63 steps: the skip needs 128 steps,
    two relays, and the balanced network balances to itself."""
    paths = balance(delayed_skip((2,), MAX_DELAY))
    assert [n for n in paths.populations if n.startswith("a_delay")] == ["a_delay1", "a_delay2"]
    assert paths.latency == 4 + 2 * MAX_DELAY
    again = balance(paths)
    assert [(s.name, s.src, s.delay) for s in again.synapses] == [
        (s.name, s.src, s.delay) for s in paths.synapses
    ]


def _deep_skip(depth: int) -> ir.Graph:
    """``x → [Linear(1) → SignedIF]·depth → Linear(2)``, plus ``Linear(−1)`` of the first
    neuron, added, into a SignedIF: on integer inputs (θ = 1) every count is exact."""
    b = DagBuilder((2,))
    first = cur = b.add(ir.SignedIF(1.0, 0.0, max_spikes=1 << 12), b.add(ir.Linear(np.eye(2)), "x"))
    for _ in range(depth - 1):
        cur = b.add(ir.SignedIF(1.0, 0.0, max_spikes=1 << 12), b.add(ir.Linear(np.eye(2)), cur))
    main, skip = b.add(ir.Linear(2 * np.eye(2)), cur), b.add(ir.Linear(-np.eye(2)), first)
    return b.graph(b.add(ir.SignedIF(1.0, 0.0, max_spikes=1 << 12), b.add(ir.Add(), main, skip)))


def test_a_delay_chain_runs_step_for_step_like_the_simulator():
    """A skip of 130 steps (two relays): the fixed point's counts at Loihi step latency + t
    are the simulator's at step t (a relay a step off would show at the first step)."""
    graph = _deep_skip(2 * HOP + 3)
    steps = 3
    exp = to_loihi(graph, steps, x_max=127.0)  # input scale 1: messages are x itself
    assert sorted(h for h in exp.net.helpers if "_delay" in h) == [
        "signedif2_delay1", "signedif2_delay2"
    ]  # fmt: skip
    x = np.random.default_rng(0).integers(-20, 21, (4, 2)).astype(np.float32)
    pg = exp.graph
    out = pg.output["process"]
    trace = simulate(pg, pg.schedule(pg.encode(x)), record=[out])
    stage = exp.net.latency
    loihi = np.cumsum(trace.spikes[out], 0)[stage : stage + steps]
    ref = Simulator(graph).run(torch.from_numpy(x), T=steps).output
    counts = ref * torch.arange(1, steps + 1).reshape(-1, 1, 1)
    np.testing.assert_array_equal(loihi, np.rint(counts.numpy()).astype(np.int64))
