"""Chains of element-wise nodes run as one step program.

A stateless element-wise op may also be written as a step program with no state
(:func:`elementwise_program`): ``Scale``'s is ``Y = X · FACTOR``, the same single float32
product as its torch kernel. :func:`chain` composes the programs of nodes that feed one
another element by element (``Scale → Compensate → BipolarIF``: the normalisation, the
expectation compensation and the neuron) into one program: each program's output register
is the next one's ``x``, registers and constants renamed apart. Every op of every member
runs in the same order on the same values, so a chain computes what its members compute
one after the other, bit for bit, with one pass over memory instead of one per member.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..ir import nodes as ir
from .neurons import _split, has_program, step_program
from .program import Op, StepProgram

ELEMENTWISE: dict[type[ir.Node], Callable[[Any], StepProgram]] = {}


def _scale(node: ir.Scale) -> StepProgram:
    """``Y = X · FACTOR`` (a scalar or one factor per channel)."""
    scalars, channels = _split({"FACTOR": node.factor})
    return StepProgram((Op("y", "mul", ("x", "FACTOR")),), (), "y", {}, scalars, channels, False)


ELEMENTWISE[ir.Scale] = _scale


def in_chain(node: ir.Node) -> bool:
    """Whether ``node`` can run inside a chain: a stateful node with a step program, or a
    stateless element-wise op written as one."""
    return type(node) in ELEMENTWISE or has_program(node)


def elementwise_program(node: ir.Node) -> StepProgram:
    """The step program of a node that :func:`in_chain` accepts."""
    build = ELEMENTWISE.get(type(node))
    return build(node) if build is not None else step_program(node)


def chain(programs: Sequence[StepProgram]) -> StepProgram:
    """One program running ``programs`` one after the other each step, the output of each
    the input ``x`` of the next. Member ``i``'s registers become ``m{i}_…`` and its
    constants ``M{i}_…``; the chain spikes where its last member does."""
    if not programs:
        raise ValueError("a chain needs at least one program")
    ops: list[Op] = []
    state: list[str] = []
    init: dict[str, Any] = {}
    scalars: dict[str, float] = {}
    channels: dict[str, Any] = {}
    feed = "x"
    for i, prog in enumerate(programs):
        consts = {*prog.scalars, *prog.channels}

        def rename(reg: str, i: int = i, consts: set[str] = consts, feed: str = feed) -> str:
            if reg == "x":
                return feed
            return f"M{i}_{reg}" if reg in consts else f"m{i}_{reg}"

        ops += [Op(rename(op.dst), op.fn, tuple(map(rename, op.args))) for op in prog.ops]
        state += [rename(r) for r in prog.state]
        init.update({rename(r): v for r, v in prog.init.items()})
        scalars.update({rename(k): v for k, v in prog.scalars.items()})
        channels.update({rename(k): v for k, v in prog.channels.items()})
        feed = rename(prog.output)
    last = programs[-1]
    return StepProgram(tuple(ops), tuple(state), feed, init, scalars, channels, last.spiking)
