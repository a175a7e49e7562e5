"""Neuron dynamics as a straight-line program: one source for the CUDA kernel and for NumPy.

A neuron layer's step is a short list of :class:`Op` (``dst = fn(a, b)``) over registers
``v`` (membrane), ``x`` (input), ``s`` (spike) and temporaries, with the node's parameters as
named constants. :mod:`.kernels` renders the list as CUDA C (``float`` or ``half2``) inside a
loop over all T steps; :func:`execute` runs the very same list with an array module (NumPy
or CuPy) over whole arrays, so the CPU path checks the kernel's arithmetic op by op.

The op order is SpikingJelly's (and :mod:`sjconvert.sim.neurons`'s), so float32 spikes are
bit-identical to the torch reference::

    IF:                 H = V + X
    LIF, decay_input:   H = V + (X − (V − V_r)) / τ        (× decay for ParametricLIF)
    LIF, otherwise:     H = V − (V − V_r) / τ + X
    fire:               S = Θ(H − V_th)  computed as  H >= V_th
    soft reset:         V = H − S·V_th
    hard reset:         V = V_reset if S else H
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...ir import nodes as ir

FUNCTIONS = ("add", "sub", "mul", "div", "ge", "select")


@dataclass(frozen=True)
class Op:
    """``dst = fn(*args)``; an argument is a register or a constant name (upper case)."""

    dst: str
    fn: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class NeuronSpec:
    """Everything a neuron kernel depends on; hashable, so it keys the kernel cache.

    ``threshold`` is None when the layer has one threshold per channel (read from an array
    at run time); scalar parameters are compiled into the kernel as constants.
    """

    model: str
    v_reset: float | None
    threshold: float | None
    tau: float | None = None
    decay: float | None = None
    decay_input: bool = True

    @classmethod
    def of(cls, node: ir.IF | ir.LIF) -> NeuronSpec:
        th = node.v_threshold
        scalar = None if isinstance(th, np.ndarray) else float(th)
        if isinstance(node, ir.LIF):
            return cls("LIF", node.v_reset, scalar, node.tau, node.decay, node.decay_input)
        return cls("IF", node.v_reset, scalar)

    @property
    def reset(self) -> str:
        return "soft" if self.v_reset is None else "hard"

    def constants(self) -> dict[str, float]:
        """Named scalar constants the program reads (``TH`` only when it is a scalar)."""
        out = {"VR": 0.0 if self.v_reset is None else float(self.v_reset)}
        if self.threshold is not None:
            out["TH"] = self.threshold
        if self.model == "LIF":
            out["DECAY" if self.decay is not None else "TAU"] = (
                self.decay if self.decay is not None else float(self.tau)  # type: ignore[arg-type]
            )
        return out


@functools.cache
def program(spec: NeuronSpec) -> tuple[Op, ...]:
    """The per-step ops of ``spec``, in the reference simulator's float order."""
    ops: list[Op] = []
    if spec.model == "IF":
        ops.append(Op("v", "add", ("v", "x")))
    else:
        src = "v"
        if spec.v_reset:  # V − V_r (skipped when V_r = 0, as the reference does)
            ops.append(Op("h", "sub", ("v", "VR")))
            src = "h"
        if spec.decay_input:
            ops.append(Op("h", "sub", ("x", src)))
            src = "h"
        leak = ("div", "TAU") if spec.decay is None else ("mul", "DECAY")
        ops.append(Op("h", leak[0], (src, leak[1])))
        if spec.decay_input:
            ops.append(Op("v", "add", ("v", "h")))
        else:
            ops += [Op("v", "sub", ("v", "h")), Op("v", "add", ("v", "x"))]
    ops.append(Op("s", "ge", ("v", "TH")))
    if spec.reset == "soft":
        ops += [Op("r", "mul", ("s", "TH")), Op("v", "sub", ("v", "r"))]
    else:
        ops.append(Op("v", "select", ("s", "VR", "v")))
    return tuple(ops)


def registers(ops: tuple[Op, ...]) -> list[str]:
    """Registers a program writes besides ``v`` and ``s`` (its temporaries), in order."""
    return list(dict.fromkeys(op.dst for op in ops if op.dst not in ("v", "s")))


def execute(ops: tuple[Op, ...], regs: dict[str, Any], consts: dict[str, Any], xp: Any) -> None:
    """Run one step of ``ops`` in place over whole arrays with array module ``xp``.

    ``regs`` maps register names to arrays (``x`` may be read-only); ``consts`` maps constant
    names to scalars of the arrays' dtype or to arrays broadcasting against them.
    """
    ufuncs = {"add": xp.add, "sub": xp.subtract, "mul": xp.multiply, "div": xp.divide}
    for op in ops:
        args = [regs[a] if a in regs else consts[a] for a in op.args]
        dst = regs[op.dst]
        if op.fn in ufuncs:
            ufuncs[op.fn](*args, out=dst)
        elif op.fn == "ge":
            dst[...] = xp.greater_equal(*args)
        elif op.args[2] == op.dst:  # select(s, a, dst): overwrite where s fired
            xp.copyto(dst, args[1], where=args[0] != 0)
        else:
            dst[...] = xp.where(args[0] != 0, args[1], args[2])
