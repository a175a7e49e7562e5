"""The step-program language: one time step of a stateful element-wise node (a neuron) as a
short list of :class:`Op` over named registers.

Registers: ``x`` (the input ``X[t]``, read only), the node's state registers (carried from
step to step, e.g. ``v``), its output register (``s`` for spikes) and temporaries. Upper
case names are constants: scalars compiled in, or per-channel arrays (axis 1). Every
executor runs or generates code from the same program, op by op, in the same float order:

* :func:`compile_inplace` over whole arrays of any array module (NumPy, CuPy, torch), writing
  into preallocated registers (the reference simulator and the NumPy/CuPy graph);
* :func:`run_pure` with fresh values and no in-place write (the exported torch module:
  Lynxi's compiler ignores in-place writes, ONNX export traces it);
* :mod:`sjconvert.targets.cupy.kernels` renders it as CUDA C.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

#: the functions an op may apply, with their number of arguments
FUNCTIONS = {
    "add": 2,
    "sub": 2,
    "mul": 2,
    "div": 2,
    "ge": 2,
    "select": 3,
    "floor": 1,
    "min": 2,
    "max": 2,
    "copy": 1,
}


#: each function as a C expression over ``float`` operands (CPU kernels, CUDA ``float``);
#: ``min``/``max`` as comparisons (compilers vectorise them; operands are never NaN)
C_EXPRESSIONS = {
    "add": "{0} + {1}",
    "sub": "{0} - {1}",
    "mul": "{0} * {1}",
    "div": "{0} / {1}",
    "ge": "({0} >= {1}) ? 1.0f : 0.0f",
    "select": "({0} != 0.0f) ? {1} : {2}",
    "floor": "floorf({0})",
    "min": "({0} < {1} ? {0} : {1})",
    "max": "({0} > {1} ? {0} : {1})",
    "copy": "{0}",
}


@dataclass(frozen=True)
class Op:
    """``dst = fn(*args)``. ``ge`` gives 1.0 where ``a >= b`` (else 0.0); ``select(s, a, b)``
    gives ``a`` where ``s != 0`` (else ``b``); ``floor(a)`` rounds down; ``min`` and ``max``
    take the smaller and the larger of ``a`` and ``b``; ``copy(a)`` is ``a`` itself."""

    dst: str
    fn: str
    args: tuple[str, ...]

    def __post_init__(self) -> None:
        if FUNCTIONS.get(self.fn) != len(self.args):
            raise ValueError(f"op {self.fn} with {len(self.args)} arguments")


@dataclass(frozen=True, eq=False)
class StepProgram:
    """One step of a stateful node.

    ``state`` registers start at ``init`` (a scalar or one value per channel) before step 0;
    ``output`` is the register holding ``Y[t]``; ``scalars`` are constants compiled in,
    ``channels`` per-channel constant arrays. ``spiking``: the output is 0/1.
    """

    ops: tuple[Op, ...]
    state: tuple[str, ...]
    output: str
    init: Mapping[str, Any]
    scalars: Mapping[str, float]
    channels: Mapping[str, np.ndarray]
    spiking: bool = True

    @property
    def temps(self) -> list[str]:
        """Registers written besides the state and the output, in order."""
        fixed = {*self.state, self.output}
        return list(dict.fromkeys(op.dst for op in self.ops if op.dst not in fixed))

    @property
    def signature(self) -> tuple[Any, ...]:
        """What generated code depends on (not the per-channel values): a cache key."""
        return (
            self.ops,
            self.state,
            self.output,
            tuple(sorted(self.scalars.items())),
            tuple(sorted(self.channels)),
            self.spiking,
        )

    def constants(self, cast: Any, channel: Any) -> dict[str, Any]:
        """Constants for an executor: ``cast(float)`` for scalars, ``channel(array)`` for
        per-channel arrays."""
        out = {k: cast(v) for k, v in self.scalars.items()}
        out.update({k: channel(v) for k, v in self.channels.items()})
        return out


Step = Callable[[dict[str, Any], Mapping[str, Any]], None]


def compile_inplace(program: StepProgram, xp: Any) -> Step:
    """``step(regs, consts)``: one step over whole arrays of array module ``xp`` (numpy,
    cupy or torch), writing every result into the preallocated register ``regs[op.dst]``
    (``x`` is read only; constants are scalars or arrays broadcasting over the registers)."""
    plan = [(_inplace_fn(op, xp), op.dst, op.args) for op in program.ops]

    def step(regs: dict[str, Any], consts: Mapping[str, Any]) -> None:
        for fn, dst, names in plan:
            fn(regs[dst], *[regs[a] if a in regs else consts[a] for a in names])

    return step


def _inplace_fn(op: Op, xp: Any) -> Callable[..., Any]:
    is_torch = getattr(xp, "__name__", "") == "torch"
    if op.fn in ("add", "sub", "mul", "div"):
        ufunc = getattr(xp, op.fn if is_torch else _UFUNC[op.fn])
        return lambda dst, a, b: ufunc(a, b, out=dst)
    if op.fn == "ge":
        if is_torch:
            return lambda dst, a, b: xp.ge(a, b, out=dst)
        return lambda dst, a, b: dst.__setitem__(Ellipsis, xp.greater_equal(a, b))
    if op.fn == "floor":
        return lambda dst, a: xp.floor(a, out=dst)
    if op.fn == "copy":
        if is_torch:
            return lambda dst, a: dst.copy_(a) if isinstance(a, xp.Tensor) else dst.fill_(a)
        return lambda dst, a: xp.copyto(dst, a)
    if op.fn in ("min", "max"):
        if is_torch:
            pick = xp.minimum if op.fn == "min" else xp.maximum
            bound = "max" if op.fn == "min" else "min"
            return lambda dst, a, b: (
                pick(a, b, out=dst)
                if isinstance(b, xp.Tensor)
                else xp.clamp(a, **{bound: b}, out=dst)
            )
        ufunc = getattr(xp, "minimum" if op.fn == "min" else "maximum")
        return lambda dst, a, b: ufunc(a, b, out=dst)
    in_place = op.args[2] == op.dst
    if is_torch:

        def select(dst: Any, s: Any, a: Any, b: Any) -> None:
            if in_place and not isinstance(a, xp.Tensor):
                dst.masked_fill_(s != 0, a)
            else:
                dst.copy_(xp.where(s != 0, a, b))

        return select
    if in_place:
        return lambda dst, s, a, b: xp.copyto(dst, a, where=s != 0)
    return lambda dst, s, a, b: dst.__setitem__(Ellipsis, xp.where(s != 0, a, b))


_UFUNC = {"add": "add", "sub": "subtract", "mul": "multiply", "div": "divide"}


def run_pure(program: StepProgram, regs: dict[str, Any], consts: Mapping[str, Any]) -> None:
    """One step with torch tensors and no in-place write: ``regs[op.dst]`` is rebound to a
    new value. ``select`` is ``b·(1 − s) + a·s`` (exact for ``s`` in {0, 1} and finite
    values), which every exporter and compiler takes."""
    for op in program.ops:
        a = [regs[n] if n in regs else consts[n] for n in op.args]
        if op.fn == "add":
            regs[op.dst] = a[0] + a[1]
        elif op.fn == "sub":
            regs[op.dst] = a[0] - a[1]
        elif op.fn == "mul":
            regs[op.dst] = a[0] * a[1]
        elif op.fn == "div":
            regs[op.dst] = a[0] / a[1]
        elif op.fn == "ge":
            regs[op.dst] = (a[0] >= a[1]).to(regs["x"].dtype)
        elif op.fn == "floor":
            regs[op.dst] = torch.floor(a[0])
        elif op.fn == "copy":
            regs[op.dst] = a[0]
        elif op.fn in ("min", "max"):
            regs[op.dst] = _bound(op.fn, a[0], a[1])
        else:
            regs[op.dst] = a[2] * (1.0 - a[0]) + a[0] * a[1]


def _bound(fn: str, a: Any, b: Any) -> Any:
    """``min(a, b)`` or ``max(a, b)`` for a tensor ``a`` and a tensor or scalar ``b``."""
    if isinstance(b, torch.Tensor):
        return torch.minimum(a, b) if fn == "min" else torch.maximum(a, b)
    return torch.clamp(a, max=b) if fn == "min" else torch.clamp(a, min=b)
