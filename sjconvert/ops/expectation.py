"""Step programs and rate models of expectation compensation (:mod:`sjconvert.ir.nodes.
expectation`), written once; every executor runs or generates code from them::

    RunningMean   S = S + X;  C = C + 1;  Y = S / C
    Compensate    C = C + 1;  U = X·C;  Y = U − P;  P = U          (P: t·X[t−1])
    BipolarIF     H = V + X;  S = max(min(⌊H / V_th⌋, B), −B);  V = H − S·V_th

The rate models (the limit of many steps) are the identity for the first two and
``clamp(X / V_th, −B, B)`` for the neuron.
"""

from __future__ import annotations

import torch

from ..ir import nodes as ir
from .kernels import Params, kernel, rate
from .neurons import _split, program_for
from .program import Op, StepProgram


@program_for(ir.RunningMean)
def _running_mean(node: ir.RunningMean) -> StepProgram:
    ops = (
        Op("v", "add", ("v", "x")),
        Op("c", "add", ("c", "ONE")),
        Op("y", "div", ("v", "c")),
    )
    init = {"v": 0.0, "c": 0.0}
    return StepProgram(ops, ("v", "c"), "y", init, {"ONE": 1.0}, {}, spiking=False)


@program_for(ir.Compensate)
def _compensate(node: ir.Compensate) -> StepProgram:
    ops = (
        Op("c", "add", ("c", "ONE")),
        Op("u", "mul", ("x", "c")),
        Op("y", "sub", ("u", "p")),
        Op("p", "add", ("u", "ZERO")),
    )
    init = {"c": 0.0, "p": 0.0}
    return StepProgram(ops, ("c", "p"), "y", init, {"ONE": 1.0, "ZERO": 0.0}, {}, spiking=False)


@program_for(ir.BipolarIF)
def _bipolar_if(node: ir.BipolarIF) -> StepProgram:
    ops = (
        Op("v", "add", ("v", "x")),
        Op("k", "div", ("v", "TH")),
        Op("k", "floor", ("k",)),
        Op("s", "min", ("k", "B")),
        Op("s", "max", ("s", "MINUS_B")),
        Op("r", "mul", ("s", "TH")),
        Op("v", "sub", ("v", "r")),
    )
    b = float(node.max_spikes)
    scalars, channels = _split({"TH": node.v_threshold, "B": b, "MINUS_B": -b})
    return StepProgram(ops, ("v",), "s", {"v": node.v_init}, scalars, channels)


@rate(ir.RunningMean, ir.Compensate)
def _rate_identity(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return xs[0]


@kernel(ir.Encode)
def _encode(p: Params, xs: list[torch.Tensor]) -> torch.Tensor:
    return xs[0]
