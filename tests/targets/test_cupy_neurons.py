"""The cupy target's neuron programs: NumPy execution against the torch reference, and the
CUDA kernels generated from the same programs (source structure, NVRTC compilation)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sjconvert.errors import InputError
from sjconvert.ir import nodes as ir
from sjconvert.sim.neurons import run_neuron
from sjconvert.targets.cupy.device import array_module
from sjconvert.targets.cupy.kernels import kernel_name, kernel_source
from sjconvert.targets.cupy.neurons import NeuronLayer
from sjconvert.targets.cupy.program import NeuronSpec, program

C = 3


@st.composite
def neurons(draw: st.DrawFn) -> ir.IF | ir.LIF:
    """IF / LIF nodes over every parameter combination the IR allows."""
    per_channel = st.lists(st.floats(0.125, 2.0, width=32), min_size=C, max_size=C)
    th = draw(st.one_of(st.floats(0.125, 2.0, width=32), per_channel))
    v_init = draw(st.one_of(st.floats(-1.0, 1.0, width=32), per_channel))
    v_reset = draw(st.one_of(st.none(), st.just(0.0), st.floats(-1.0, 0.5, width=32)))
    if draw(st.booleans()):
        return ir.IF(th, v_reset, v_init)
    tau = draw(st.floats(1.0, 10.0))
    decay = 1.0 / tau if draw(st.booleans()) else None
    return ir.LIF(tau, th, v_reset, draw(st.booleans()), v_init, decay)


@settings(max_examples=60, deadline=None)
@given(
    node=neurons(),
    static=st.booleans(),
    T=st.integers(1, 12),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([0.3, 1.0, 3.0]),
)
def test_numpy_program_is_bit_identical_to_the_reference(node, static, T, seed, scale) -> None:
    r = np.random.default_rng(seed)
    shape = (5, C, 4) if static else (T, 5, C, 4)
    x = (r.normal(size=shape) * scale).astype(np.float32)
    s_ref, v_ref = run_neuron(node, torch.from_numpy(x), T, static=static)
    s, v = NeuronLayer(node, np, np.float32)(x, T, static=static)
    np.testing.assert_array_equal(s, s_ref.numpy())
    np.testing.assert_array_equal(v, v_ref.numpy())
    # a second call continuing from V[T-1] equals one run of 2T steps
    s2, _ = NeuronLayer(node, np, np.float32)(x, T, static=static, v0=v)
    both = x if static else np.concatenate([x, x])
    s_long, _ = run_neuron(node, torch.from_numpy(both), 2 * T, static=static)
    np.testing.assert_array_equal(np.concatenate([s, s2]), s_long.numpy())


@pytest.mark.parametrize(
    "node",
    [
        ir.IF(1.0, None),
        ir.IF([0.5, 1.0, 0.75], -0.5, 0.25),
        ir.LIF(2.0, 0.75, 0.0, True),
        ir.LIF(4.0, 1.0, None, False, 0.5, 0.25),
        ir.LIF(2.0, 0.5, -0.25, True),
    ],
)
def test_float16_program_matches_torch_half_when_constants_are_exact(node) -> None:
    """The half2 kernel's semantics (IEEE half ops, constants rounded to half) equal torch's
    CPU half arithmetic when every constant is exact in half precision."""
    x = (np.random.default_rng(1).normal(size=(16, 8, C, 5)) * 0.7).astype(np.float16)
    s_ref, v_ref = run_neuron(node, torch.from_numpy(x), 16, static=False)
    s, v = NeuronLayer(node, np, np.float16)(x, 16, static=False)
    np.testing.assert_array_equal(s, s_ref.numpy())
    np.testing.assert_array_equal(v, v_ref.numpy())


SPECS = [
    NeuronSpec("IF", None, 1.0),
    NeuronSpec("IF", -0.5, None),
    NeuronSpec("LIF", 0.2, 0.7, 2.5, None, True),
    NeuronSpec("LIF", None, None, 4.0, 0.25, False),
]


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.model}-{s.reset}")
def test_kernel_source_renders_the_program_op_by_op(spec, dtype) -> None:
    src = kernel_source(spec, dtype)
    assert kernel_source(spec, dtype) is src  # cached per parameter set
    body = src[src.index("for (") : src.index("s_seq[t * n + i]")]
    lines = re.findall(r"^\s+(\w+) = (.*);$", body, flags=re.M)
    assert [dst for dst, _ in lines] == [op.dst for op in program(spec)]
    if dtype == "float16":  # half2 intrinsics only, no float arithmetic on the registers
        assert "__hge2(v, TH)" in src and not any(re.search(r" [-+*/] ", e) for _, e in lines)
    else:
        assert "(v >= TH) ? 1.0f : 0.0f" in src and "half" not in src
    assert ("th[(" in src) == (spec.threshold is None)
    if spec.decay is None and spec.model == "LIF":
        assert "TAU = 2.5f" in src or "__float2half2_rn(2.5f)" in src


def test_kernels_are_keyed_by_neuron_parameters() -> None:
    names = {kernel_name(s, d) for s in SPECS for d in ("float32", "float16")}
    assert len(names) == 2 * len(SPECS)
    assert NeuronSpec.of(ir.IF(1.0, None)) == NeuronSpec.of(ir.IF(1.0, None))
    assert NeuronSpec.of(ir.IF([1.0, 2.0], None)).threshold is None


def _nvrtc_or_skip() -> None:
    try:
        import cupy
        from cupy_backends.cuda.libs import nvrtc

        nvrtc.getVersion()
        if not cupy.cuda.get_cuda_path():
            raise ImportError("no CUDA headers")
    except (ImportError, OSError, RuntimeError) as exc:
        pytest.skip(f"needs CuPy with NVRTC and the CUDA headers (cupy-cuda12x): {exc}")


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.model}-{s.reset}")
def test_kernels_compile_with_nvrtc(spec, dtype) -> None:
    """NVRTC compiles without a GPU; the PTX keeps IEEE division and no contracted fma."""
    _nvrtc_or_skip()
    from sjconvert.targets.cupy.device import nvrtc_ptx

    ptx = nvrtc_ptx(kernel_source(spec, dtype))
    assert f".entry {kernel_name(spec, dtype)}" in ptx
    if dtype == "float32":
        assert "fma.rn.f32" not in ptx
        assert ("div.rn.f32" in ptx) == (spec.model == "LIF" and spec.decay is None)


def test_cupy_backend_needs_cupy_and_a_device() -> None:
    try:
        xp = array_module("cupy")
    except InputError as exc:
        assert "backend cupy needs" in str(exc) and "\n" not in str(exc)
    else:
        assert xp.cuda.runtime.getDeviceCount() > 0
