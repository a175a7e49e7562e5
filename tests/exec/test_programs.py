"""Step programs run by different array modules: NumPy and torch execute each op in the same
order, so every stateful node (IF, LIF, CubaLIF, LI, ...) gives bit-identical outputs and
state whichever executor runs it, and a run continued from its state equals one long run."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sjconvert.exec.arrays import Arrays, run_node
from sjconvert.ir import nodes as ir
from sjconvert.ops import PROGRAMS

C = 3


@st.composite
def neurons(draw: st.DrawFn, spiking: bool = False) -> ir.Node:
    """Stateful nodes over every parameter combination the IR allows (``spiking``: only
    those whose outputs are spikes)."""
    per_channel = st.lists(st.floats(0.125, 2.0, width=32), min_size=C, max_size=C)
    th = draw(st.one_of(st.floats(0.125, 2.0, width=32), per_channel))
    v_init = draw(st.one_of(st.floats(-1.0, 1.0, width=32), per_channel))
    v_reset = draw(st.one_of(st.none(), st.just(0.0), st.floats(-1.0, 0.5, width=32)))
    others = ["LI", "Accumulate", "Difference", "Delay", "RunningMean", "Compensate"]
    others = [] if spiking else others
    kind = draw(st.sampled_from(["IF", "SignedIF", "BipolarIF", "LIF", "CubaLIF", *others]))
    if kind == "IF":
        return ir.IF(th, v_reset, v_init)
    if kind == "SignedIF":
        return ir.SignedIF(th, v_init, max_spikes=draw(st.integers(1, 4)))
    if kind == "BipolarIF":
        return ir.BipolarIF(th, v_init, max_spikes=draw(st.integers(1, 16)))
    if kind in ("Accumulate", "Difference", "RunningMean", "Compensate"):
        return getattr(ir, kind)()
    if kind == "Delay":
        return ir.Delay(draw(st.integers(0, 3)))
    if kind == "CubaLIF":
        decays = st.floats(0.0, 0.99)
        return ir.CubaLIF(draw(decays), draw(decays), th, v_reset, v_init)
    tau = draw(st.floats(1.0, 10.0))
    if kind == "LI":
        return ir.LI(tau, draw(st.floats(-1.0, 1.0, width=32)))
    decay = 1.0 / tau if draw(st.booleans()) else None
    return ir.LIF(tau, th, v_reset, draw(st.booleans()), v_init, decay)


def test_every_stateful_node_has_a_program_and_is_covered() -> None:
    kinds = {"IF", "SignedIF", "LIF", "CubaLIF", "LI", "Accumulate", "Difference", "Delay"}
    kinds |= {"BipolarIF", "RunningMean", "Compensate"}
    assert {cls.__name__ for cls in PROGRAMS} == kinds
    assert set(PROGRAMS) == {c for c in ir.NODE_TYPES.values() if c.stateful}


def _numpy(node: ir.Node, x: np.ndarray, T: int, static: bool, state=None):
    return run_node(node, x, T, static, state, Arrays(np, np.dtype(x.dtype)))


@settings(max_examples=60, deadline=None)
@given(
    node=neurons(),
    static=st.booleans(),
    T=st.integers(1, 12),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([0.3, 1.0, 3.0]),
)
def test_numpy_and_torch_programs_are_bit_identical(node, static, T, seed, scale) -> None:
    r = np.random.default_rng(seed)
    shape = (5, C, 4) if static else (T, 5, C, 4)
    x = (r.normal(size=shape) * scale).astype(np.float32)
    s_ref, state_ref = run_node(node, torch.from_numpy(x), T, static=static)
    s, state = _numpy(node, x, T, static)
    np.testing.assert_array_equal(s, s_ref.numpy())
    for k in state_ref:
        np.testing.assert_array_equal(state[k], state_ref[k].numpy())
    # a second call continuing from the state equals one run of 2T steps
    s2, _ = _numpy(node, x, T, static, state)
    both = x if static else np.concatenate([x, x])
    s_long, _ = run_node(node, torch.from_numpy(both), 2 * T, static=static)
    np.testing.assert_array_equal(np.concatenate([s, s2]), s_long.numpy())


@pytest.mark.parametrize(
    "node",
    [
        ir.IF(1.0, None),
        ir.IF([0.5, 1.0, 0.75], -0.5, 0.25),
        ir.LIF(2.0, 0.75, 0.0, True),
        ir.LIF(4.0, 1.0, None, False, 0.5, 0.25),
        ir.LIF(2.0, 0.5, -0.25, True),
        ir.CubaLIF(0.5, 0.25, 1.0, None, 0.0),
        ir.SignedIF([0.5, 1.0, 0.75], 0.25, max_spikes=2),
    ],
)
def test_float16_programs_match_torch_half_when_constants_are_exact(node) -> None:
    """Half precision (IEEE half ops, constants rounded to half) equals torch's CPU half
    arithmetic when every constant is exact in half precision."""
    x = (np.random.default_rng(1).normal(size=(16, 8, C, 5)) * 0.7).astype(np.float16)
    s_ref, v_ref = run_node(node, torch.from_numpy(x), 16, static=False)
    s, v = _numpy(node, x, 16, static=False)
    np.testing.assert_array_equal(s, s_ref.numpy())
    for k in v_ref:
        np.testing.assert_array_equal(v[k], v_ref[k].numpy())
