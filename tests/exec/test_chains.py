"""Chains of element-wise nodes run as one step program (sjconvert.ops.chain,
sjconvert.exec.chains): bit for bit what the members compute one after the other, in the
compiled kernel and op by op; found where they may run fused and nowhere else."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sjconvert.exec.arrays import Arrays, Stateful, run_node
from sjconvert.exec.arraysim import ArraySimulator
from sjconvert.exec.chains import chains
from sjconvert.exec.reference import Simulator
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph
from sjconvert.ops import KERNELS, chain, compile_inplace, elementwise_program, prepare
from tests.conformance.executors import unfused

C = 3  # channels


def _scale(per_channel: bool) -> ir.Scale:
    return ir.Scale(np.array([0.5, 1.5, -0.75], np.float32) if per_channel else np.float32(0.3))


INNER = {
    "scale": lambda: _scale(False),
    "scale/c": lambda: _scale(True),
    "mean": ir.RunningMean,
    "compensate": ir.Compensate,
}
LAST = {
    "bipolar": lambda: ir.BipolarIF(np.float32([0.3, 0.7, 1.1]), 0.15, max_spikes=3),
    "signed": lambda: ir.SignedIF(0.5, 0.25, max_spikes=2),
    "if": lambda: ir.IF(0.4, None, 0.0),
    "lif": lambda: ir.LIF(v_threshold=0.6, v_reset=0.0, tau=2.0),
    "mean": ir.RunningMean,
}


def _one_by_one(nodes: list[ir.Node], x: torch.Tensor, T: int, static: bool) -> torch.Tensor:
    """Each member in turn: a Scale by its torch kernel, a stateful node by its runner."""
    for node in nodes:
        if node.stateful:
            x, _ = run_node(node, x, T, static)
            static = False
        else:
            x = KERNELS[type(node)].fn(prepare(node, [tuple(x.shape[2 - static :])]), [x])
    return x


def _bits(a: torch.Tensor) -> bytes:
    return (a.numpy() + np.float32(0.0)).tobytes()


@settings(max_examples=40, deadline=None)
@given(
    inner=st.lists(st.sampled_from(sorted(INNER)), min_size=1, max_size=3),
    last=st.sampled_from(sorted(LAST)),
    static=st.booleans(),
    compiled=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_a_chain_computes_its_members_one_after_another(inner, last, static, compiled, seed):
    nodes = [INNER[k]() for k in inner] + [LAST[last]()]
    T, n = 5, 2
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((n, C, 4) if static else (T, n, C, 4), generator=g)
    want = _one_by_one(nodes, x, T, static)
    program = chain([elementwise_program(node) for node in nodes])
    with contextlib.nullcontext() if compiled else unfused():
        runner = Stateful(nodes[-1], Arrays(torch, torch.float32), program=program)
    got, _ = runner(x, T, static, None)
    assert _bits(got) == _bits(want)


def test_scale_as_a_program_is_its_kernel():
    x = torch.randn(7, C, 5)
    for node in (_scale(False), _scale(True)):
        want = KERNELS[ir.Scale].fn(prepare(node, [(C, 5)]), [x])
        prog = elementwise_program(node)
        regs = {"x": x, "y": torch.empty_like(x)}
        consts = prog.constants(float, lambda v: torch.tensor(v).reshape(-1, 1))
        compile_inplace(prog, torch)(regs, consts)
        assert _bits(regs["y"]) == _bits(want)


def test_a_chain_needs_a_member():
    with pytest.raises(ValueError, match="at least one"):
        chain([])


def _graph(extra_reader: bool = False, output: str = "bif") -> Graph:
    """x → lin → scale → comp → bif → lin2 (→ out), with an optional second reader of comp."""
    w = np.eye(C, dtype=np.float32)
    nodes = {
        "x": ir.Input((C,)),
        "spk": ir.IF(0.5, None, 0.0),
        "lin": ir.Linear(w, None),
        "mean": ir.RunningMean(),
        "scale": _scale(True),
        "comp": ir.Compensate(),
        "bif": ir.BipolarIF(0.5, 0.25, max_spikes=2),
        "lin2": ir.Linear(w, None),
    }
    edges = {
        "x": (),
        "spk": ("x",),
        "lin": ("spk",),
        "mean": ("lin",),
        "scale": ("mean",),
        "comp": ("scale",),
        "bif": ("comp",),
        "lin2": ("bif",),
    }
    outputs = ("lin2",) if output == "bif" else ("lin2", output)
    if extra_reader:
        nodes["side"], edges["side"] = ir.Linear(w, None), ("comp",)
        outputs = (*outputs, "side")
    return Graph(nodes, edges, outputs)


def test_chains_end_in_a_stateful_node_and_hold_no_spiking_or_shared_member():
    assert chains(_graph()) == {"bif": ("mean", "scale", "comp", "bif")}
    assert chains(_graph(extra_reader=True)) == {"comp": ("mean", "scale", "comp")}
    assert chains(_graph(output="scale")) == {"bif": ("comp", "bif")}


@pytest.mark.parametrize("executor", [Simulator, ArraySimulator])
def test_unobserved_runs_fuse_chains_and_report_the_same_bits(executor):
    graph = _graph(extra_reader=True)
    sim = executor(graph)
    assert {members[-1] for members, _ in sim.schedule.chains.values()} == {"comp"}
    x = torch.randn(4, C, generator=torch.Generator().manual_seed(1)) * 2
    seen = []
    watched = sim.run(x, T=9, block=4, observe=lambda name, *_: seen.append(name))
    fused = sim.run(x, T=9, block=4)
    assert {"mean", "scale"} <= set(seen)
    for name, value in watched.outputs.items():
        assert _bits(fused.outputs[name]) == _bits(value)
    for table in ("counts", "spikes_at", "synops"):
        mine, theirs = getattr(fused, table), getattr(watched, table)
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[k], theirs[k]) for k in mine)
