"""The generated CUDA neuron kernels, compiled for the CPU with a small host shim
(:mod:`tests.targets.host_kernels`) and run through the CuPy target's own fused-layer code
(:class:`~sjconvert.targets.cupy.fused.FusedStateful`) with NumPy arrays: the very source
CuPy would compile (indexing, static-input stride, per-channel thresholds, half2 lane
pairs, state carried between calls) must give the reference's outputs and state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sjconvert.exec.arrays import Arrays, run_node
from sjconvert.ir import nodes as ir
from sjconvert.targets.cupy.fused import FusedStateful
from tests.targets.host_kernels import HAS_COMPILER, host_launch

NODES = [
    ir.IF(1.0, None),
    ir.IF([0.5, 1.0, 0.75], -0.5, [0.25, 0.0, -0.25]),
    ir.LIF(2.0, 0.75, 0.25, True),
    ir.LIF(4.0, [1.0, 0.5, 0.75], None, False, 0.5, 0.25),
    ir.LIF(2.5, 0.7, 0.0, True),
    ir.CubaLIF(0.5, 0.75, [0.5, 1.0, 0.75], None, 0.25),
    ir.LI(4.0, -0.5),
    ir.SignedIF(1.0, 0.5),
    ir.SignedIF([0.5, 1.0, 0.75], [0.25, 0.0, 0.5], max_spikes=3),
    ir.Accumulate(),
    ir.Difference(),
    ir.Delay(0),
    ir.Delay(3),
]


@pytest.mark.skipif(not HAS_COMPILER, reason="needs a C++ compiler (g++)")
@pytest.mark.parametrize("static", [False, True], ids=["sequence", "static"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("node", NODES, ids=lambda n: n.op)
def test_generated_kernel_source_runs_like_the_reference(node, dtype, static) -> None:
    T, shape = 12, (4, 3, 5)  # 5 neurons per channel: half2 lane pairs straddle channels
    r = np.random.default_rng(0)
    x = (r.normal(size=shape if static else (T, *shape)) * 0.8).astype(dtype)
    want_s, want_state = run_node(node, x, T, static, None, Arrays(np, np.dtype(dtype)))
    if dtype == "float32":  # the NumPy program is itself the reference, bit for bit
        ref_s, _ = run_node(node, torch.from_numpy(x), T, static=static)
        np.testing.assert_array_equal(want_s, ref_s.numpy())
    fused = FusedStateful(node, Arrays(np, np.dtype(dtype)), host_launch)
    y, state = fused(x, T, static, None)
    np.testing.assert_array_equal(y, want_s)
    assert state.keys() == want_state.keys()
    for reg, value in state.items():
        np.testing.assert_array_equal(value, want_state[reg])
    y2, _ = fused(x, T, static, state)  # continued from the state it returned
    want2, _ = run_node(node, x, T, static, want_state, Arrays(np, np.dtype(dtype)))
    np.testing.assert_array_equal(y2, want2)
