"""Lava's compiler finds a network's processes with our linear walk
(``procgraph_loader.find_processes``, in the standalone loader shipped beside each
artifact, and used by our runs): the same set as Lava's own
``find_processes`` on a densely connected network (every population feeds every later one,
as in DenseNet), from any process it starts at; and a network compiles and runs with it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from lava.magma.compiler import compiler_graphs
from lava.magma.core.run_conditions import RunSteps
from lava.magma.core.run_configs import Loihi2SimCfg
from lava.proc.dense.process import Dense
from lava.proc.lif.process import LIF

from sjconvert.targets.lava.formats.procgraph_loader import (
    find_processes,
    linear_process_discovery,
)
from sjconvert.targets.lava.running.large_networks import lava_actors_as_threads

pytestmark = pytest.mark.lava


def _dense_block(n: int) -> list:
    """``n`` LIF populations, each fed by a ``Dense`` from every earlier one."""
    neurons = [LIF(shape=(2,), du=4095, dv=0, vth=1, bias_mant=int(i == 0)) for i in range(n)]
    synapses = []
    for a, b in itertools.combinations(range(n), 2):
        dense = Dense(weights=np.eye(2, dtype=int))
        neurons[a].s_out.connect(dense.s_in)
        dense.a_out.connect(neurons[b].a_in)
        synapses.append(dense)
    return neurons + synapses


def test_the_walk_finds_what_lavas_finds_from_every_start() -> None:
    procs = _dense_block(12)  # 12 populations and 66 synapses
    for start in procs[::7]:
        ours, lavas = find_processes(start), compiler_graphs.find_processes(start)
        assert len(ours) == len(procs) == len({id(p) for p in ours})
        assert {id(p) for p in ours} == {id(p) for p in lavas}


def test_processes_already_seen_are_returned_and_not_walked_again() -> None:
    procs = _dense_block(4)
    found = find_processes(procs[0], seen_procs=[procs[0]])
    assert {id(p) for p in found} == {id(p) for p in procs}


def test_a_network_compiles_and_runs_with_the_walk_which_is_then_put_back() -> None:
    procs = _dense_block(3)
    lavas = compiler_graphs.find_processes
    with lava_actors_as_threads(), linear_process_discovery():
        assert compiler_graphs.find_processes is find_processes
        try:
            procs[0].run(condition=RunSteps(num_steps=4), run_cfg=Loihi2SimCfg())
            v = procs[2].v.get()  # the last population has integrated its inputs' spikes
        finally:
            procs[0].stop()
    assert compiler_graphs.find_processes is lavas
    assert np.all(v != 0)
