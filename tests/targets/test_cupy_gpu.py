"""The CuPy path on a CUDA device: the fused kernels and the whole graph against the
reference. Every test here needs a GPU (skipped otherwise)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings

from sjconvert import ann2snn
from sjconvert.exec import Simulator
from sjconvert.exec.arrays import Arrays, run_node
from sjconvert.ir import nodes as ir
from sjconvert.targets.cupy import to_cupy
from sjconvert.targets.cupy.device import launch
from sjconvert.targets.cupy.fused import FusedStateful
from tests.conftest import load_sample
from tests.targets.test_cupy_graph import _has_device, networks
from tests.targets.test_cupy_host_kernels import NODES

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not _has_device(), reason="needs a CUDA device")]


@pytest.mark.parametrize("static", [False, True], ids=["sequence", "static"])
@pytest.mark.parametrize("node", NODES, ids=lambda n: n.op)
def test_cuda_kernels_are_bit_identical_to_the_reference(node: ir.Node, static: bool) -> None:
    import cupy

    T, shape = 16, (64, 3, 5)
    x = (np.random.default_rng(0).normal(size=shape if static else (T, *shape))).astype("f4")
    ref_s, ref_v = run_node(node, torch.from_numpy(x), T, static=static)
    fused = FusedStateful(node, Arrays(cupy, np.dtype("float32")), launch)
    s, v = fused(cupy.asarray(x), T, static, None)
    np.testing.assert_array_equal(cupy.asnumpy(s), ref_s.numpy())
    for reg in ref_v:
        np.testing.assert_array_equal(cupy.asnumpy(v[reg]), ref_v[reg].numpy())


@pytest.mark.parametrize("node", NODES, ids=lambda n: n.op)
def test_half2_kernels_match_the_numpy_half_program(node: ir.Node) -> None:
    import cupy

    x = (np.random.default_rng(0).normal(size=(16, 64, 3, 5)) * 0.8).astype("f2")
    want_s, want_v = run_node(node, x, 16, False, None, Arrays(np, np.dtype("float16")))
    fused = FusedStateful(node, Arrays(cupy, np.dtype("float16")), launch)
    s, v = fused(cupy.asarray(x), 16, False, None)
    np.testing.assert_array_equal(cupy.asnumpy(s), want_s)
    for reg in want_v:
        np.testing.assert_array_equal(cupy.asnumpy(v[reg]), want_v[reg])


@settings(max_examples=15, deadline=None)
@given(case=networks(dyadic=True))
def test_cupy_graph_is_bit_identical_when_synapse_sums_are_exact(case) -> None:
    graph, x, T, block, sequence = case
    ref = Simulator(graph).run(torch.from_numpy(x), T=T, sequence=sequence, block=block)
    res = to_cupy(graph, "cupy").run(x, T=T, sequence=sequence, block=block)
    assert torch.equal(res.output, ref.output) and res.spikes == ref.spikes


@pytest.mark.parametrize("sample", ["digits", "mnist1d"])
def test_cupy_graph_is_bit_identical_to_the_reference_on_the_same_gpu(sample: str) -> None:
    """Same cuDNN convolutions (TF32 off in both), exact neuron kernels and one readout
    (:mod:`sjconvert.ops.readout`): identical spikes and running means."""
    model, test, calib = load_sample(sample)
    snn = ann2snn(model, [calib["x"][:64]]).snn
    x = test["x"][:256].astype(np.float32)
    sim = to_cupy(snn, "cupy")
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        ref = Simulator(snn, device="cuda").run(torch.from_numpy(x), T=32, block=sim.block(256))
    res = sim.run(x, T=32)
    assert res.spikes == ref.spikes
    assert torch.equal(res.output, ref.output.cpu())


@pytest.mark.parametrize("sample", ["digits", "mnist1d"])
def test_cupy_graph_agrees_with_the_cpu_reference_on_the_samples(sample: str) -> None:
    """GPU convolutions sum in another order than the CPU's: spikes may differ where a
    membrane lands within rounding of the threshold; predictions must agree."""
    model, test, calib = load_sample(sample)
    snn = ann2snn(model, [calib["x"][:64]]).snn
    x = test["x"][:256].astype(np.float32)
    ref = Simulator(snn).run(torch.from_numpy(x), T=32)
    res = to_cupy(snn, "cupy").run(x, T=32)
    same = (res.output[-1].argmax(-1) == ref.output[-1].argmax(-1)).float().mean()
    total, want = sum(res.spikes.values()), sum(ref.spikes.values())
    assert same >= 0.99 and abs(total - want) <= 1e-3 * want
