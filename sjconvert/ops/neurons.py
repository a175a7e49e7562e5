"""Each stateful node's step, written once as a :class:`~.program.StepProgram`.

The float operation order is SpikingJelly's torch path, so float32 spikes are
bit-identical to its multi-step forward (``tests/sim/test_spikingjelly_parity.py``)::

    IF                  H = V + X
    SignedIF            H = V + X;  S = max(min(⌊H / V_th⌋, B), −min(C, B));  V = H − S·V_th;
                        C = C + S   (C: net spikes so far)
    LIF, decay_input    H = V + (X − (V − V_r)) / τ        (× decay for ParametricLIF)
    LIF, otherwise      H = V − (V − V_r) / τ + X           (V − V_r only when V_r ≠ 0)
    CubaLIF             I = I·α + X;  H = V·β + I
    fire                S = Θ(H − V_th)  computed as  H >= V_th
    soft reset          V = H − S·V_th
    hard reset          V = V_reset if S else H
    LI (no spikes)      V = V + (X − (V − V_leak)) / τ;  Y = V
    Accumulate          V = V + X;  Y = V
    Difference          Y = X − P;  P = X
    Delay (k steps)     Y = D₀;  D₀ = D₁;  …;  D_{k−1} = X   (D: the last k inputs)

Adding a neuron type: its node class (``sjconvert/ir/nodes``), one builder here registered
with :func:`program_for`, and a rate model in :mod:`.kernels` (``docs/architecture.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..ir import nodes as ir
from .program import Op, StepProgram

PROGRAMS: dict[type[ir.Node], Callable[[Any], StepProgram]] = {}


def program_for(*classes: type[ir.Node]) -> Callable[[Callable[[Any], StepProgram]], Any]:
    """Register the step-program builder of one or more node classes."""

    def deco(fn: Callable[[Any], StepProgram]) -> Callable[[Any], StepProgram]:
        for cls in classes:
            if cls in PROGRAMS:
                raise ValueError(f"a step program for {cls.__name__} is already registered")
            PROGRAMS[cls] = fn
        return fn

    return deco


def step_program(node: ir.Node) -> StepProgram:
    """The step program of a stateful element-wise ``node``."""
    try:
        return PROGRAMS[type(node)](node)
    except KeyError:
        raise TypeError(f"{node.op} has no step program") from None


def has_program(node: ir.Node) -> bool:
    return type(node) in PROGRAMS


def _split(values: dict[str, Any]) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Scalar constants and per-channel constant arrays."""
    scalars, channels = {}, {}
    for k, v in values.items():
        arr = np.asarray(v, np.float32)
        if arr.ndim:
            channels[k] = arr
        else:
            scalars[k] = float(v)
    return scalars, channels


def _fire(node: Any) -> list[Op]:
    """Spike on ``v >= TH``, then soft or hard reset of ``v``."""
    ops = [Op("s", "ge", ("v", "TH"))]
    if node.v_reset is None:
        return [*ops, Op("r", "mul", ("s", "TH")), Op("v", "sub", ("v", "r"))]
    return [*ops, Op("v", "select", ("s", "VR", "v"))]


def _neuron(node: Any, charge: list[Op], consts: dict[str, Any]) -> StepProgram:
    consts = {"TH": node.v_threshold, **consts}
    if node.v_reset is not None:
        consts["VR"] = float(node.v_reset)
    scalars, channels = _split(consts)
    state = ("i", "v") if "i" in {op.dst for op in charge} else ("v",)
    init = {"v": node.v_init, **({"i": 0.0} if "i" in state else {})}
    return StepProgram(tuple(charge + _fire(node)), state, "s", init, scalars, channels)


@program_for(ir.IF)
def _if(node: ir.IF) -> StepProgram:
    return _neuron(node, [Op("v", "add", ("v", "x"))], {})


@program_for(ir.SignedIF)
def _signed_if(node: ir.SignedIF) -> StepProgram:
    """``S = max(min(⌊H / V_th⌋, B), −min(C, B))``: the node's equation in one line (for
    ``H >= 0`` the floor is the positive count, for ``H < 0`` minus the count to take back)."""
    ops = (
        Op("v", "add", ("v", "x")),
        Op("k", "div", ("v", "TH")),
        Op("k", "floor", ("k",)),
        Op("s", "min", ("k", "B")),
        Op("m", "min", ("c", "B")),
        Op("m", "mul", ("m", "MINUS")),
        Op("s", "max", ("s", "m")),
        Op("r", "mul", ("s", "TH")),
        Op("v", "sub", ("v", "r")),
        Op("c", "add", ("c", "s")),
    )
    consts = {"TH": node.v_threshold, "B": float(node.max_spikes), "MINUS": -1.0}
    scalars, channels = _split(consts)
    return StepProgram(ops, ("v", "c"), "s", {"v": node.v_init, "c": 0.0}, scalars, channels)


@program_for(ir.LIF)
def _lif(node: ir.LIF) -> StepProgram:
    ops, src = [], "v"
    if node.v_reset:  # V − V_r (skipped when V_r = 0, as SpikingJelly does)
        ops.append(Op("h", "sub", ("v", "VR")))
        src = "h"
    if node.decay_input:
        ops.append(Op("h", "sub", ("x", src)))
        src = "h"
    leak, const = ("div", "TAU") if node.decay is None else ("mul", "DECAY")
    ops.append(Op("h", leak, (src, const)))
    if node.decay_input:
        ops.append(Op("v", "add", ("v", "h")))
    else:
        ops += [Op("v", "sub", ("v", "h")), Op("v", "add", ("v", "x"))]
    value = float(node.tau) if node.decay is None else float(node.decay)
    return _neuron(node, ops, {const: value})


@program_for(ir.CubaLIF)
def _cuba(node: ir.CubaLIF) -> StepProgram:
    ops = [
        Op("i", "mul", ("i", "ALPHA")),
        Op("i", "add", ("i", "x")),
        Op("v", "mul", ("v", "BETA")),
        Op("v", "add", ("v", "i")),
    ]
    return _neuron(node, ops, {"ALPHA": float(node.c_decay), "BETA": float(node.v_decay)})


@program_for(ir.LI)
def _li(node: ir.LI) -> StepProgram:
    ops = (
        Op("h", "sub", ("v", "VL")),
        Op("h", "sub", ("x", "h")),
        Op("h", "div", ("h", "TAU")),
        Op("v", "add", ("v", "h")),
    )
    consts = {"VL": float(node.v_leak), "TAU": float(node.tau)}
    return StepProgram(ops, ("v",), "v", {"v": float(node.v_leak)}, consts, {}, spiking=False)


@program_for(ir.Accumulate)
def _accumulate(node: ir.Accumulate) -> StepProgram:
    return StepProgram((Op("v", "add", ("v", "x")),), ("v",), "v", {"v": 0.0}, {}, {}, False)


@program_for(ir.Difference)
def _difference(node: ir.Difference) -> StepProgram:
    ops = (Op("y", "sub", ("x", "p")), Op("p", "copy", ("x",)))
    return StepProgram(ops, ("p",), "y", {"p": 0.0}, {}, {}, spiking=False)


@program_for(ir.Delay)
def _delay(node: ir.Delay) -> StepProgram:
    """A shift register of ``k = steps`` registers, oldest first: ``Y[t] = X[t − k]``."""
    line = [f"d{i}" for i in range(node.steps)]
    feeds = [*line, "x"]  # d_i takes d_{i+1}; the newest takes x; y the oldest (or x)
    ops = [Op("y", "copy", (feeds[0],))]
    ops += [Op(dst, "copy", (feeds[i + 1],)) for i, dst in enumerate(line)]
    init = dict.fromkeys(line, 0.0)
    return StepProgram(tuple(ops), tuple(line), "y", init, {}, {}, spiking=False)
