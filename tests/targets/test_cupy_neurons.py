"""The cupy target's CUDA kernels, generated from the same step programs every executor
runs: source structure, caching, NVRTC compilation."""

from __future__ import annotations

import re

import pytest

from sjconvert.errors import InputError
from sjconvert.ir import nodes as ir
from sjconvert.ops import step_program
from sjconvert.targets.cupy.device import array_module
from sjconvert.targets.cupy.kernels import kernel_name, kernel_source

NODES = [
    ir.IF(1.0, None),
    ir.IF([1.0, 0.5], -0.5),
    ir.LIF(2.5, 0.7, 0.2, True),
    ir.LIF(4.0, [1.0, 2.0], None, False, 0.0, 0.25),
    ir.CubaLIF(0.5, 0.25, 1.0, None),
    ir.LI(3.0, -0.5),
]
IDS = ["IF-soft", "IF-hard-channel", "LIF-hard", "LIF-soft-decay", "CubaLIF", "LI"]


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("node", NODES, ids=IDS)
def test_kernel_source_renders_the_program_op_by_op(node, dtype) -> None:
    prog = step_program(node)
    src = kernel_source(prog, dtype)
    assert kernel_source(step_program(node), dtype) is src  # cached per parameter set
    body = src[src.index("for (") : src.index("y_seq[sj_t * n + sj_i]")]
    lines = re.findall(r"^\s+(\w+) = (.*);$", body, flags=re.M)
    assert [dst for dst, _ in lines] == [op.dst for op in prog.ops]
    if dtype == "float16":  # half2 intrinsics only, no float arithmetic on the registers
        assert not any(re.search(r" [-+*/] ", e) for _, e in lines)
    else:
        assert "half" not in src
    for name in prog.channels:  # per-channel constants come from arrays
        assert f"{name}_arr[(" in src
    for reg in prog.state:  # state read at the start, written back at the end
        assert f"{reg} = {reg}_state[sj_i];" in src and f"{reg}_state[sj_i] = {reg};" in src
    if isinstance(node, ir.LIF) and node.decay is None:
        assert "TAU = 2.5f" in src or "__float2half2_rn(2.5f)" in src


def test_kernels_are_keyed_by_parameters() -> None:
    names = {kernel_name(step_program(n), d) for n in NODES for d in ("float32", "float16")}
    assert len(names) == 2 * len(NODES)
    same = [step_program(ir.IF(1.0, None)), step_program(ir.IF(1.0, None))]
    assert kernel_name(same[0], "float32") == kernel_name(same[1], "float32")
    # per-channel values are read at run time: they do not change the kernel
    a, b = step_program(ir.IF([1.0, 2.0], None)), step_program(ir.IF([3.0, 4.0], None))
    assert kernel_source(a, "float32") == kernel_source(b, "float32")


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
@pytest.mark.parametrize("node", NODES, ids=IDS)
def test_kernels_compile_with_nvrtc(node, dtype) -> None:
    """NVRTC compiles without a GPU; the PTX keeps IEEE division and no contracted fma."""
    _nvrtc_or_skip()
    from sjconvert.targets.cupy.device import nvrtc_ptx

    prog = step_program(node)
    ptx = nvrtc_ptx(kernel_source(prog, dtype))
    assert f".entry {kernel_name(prog, dtype)}" in ptx
    if dtype == "float32":
        assert "fma.rn.f32" not in ptx
        divides = any(op.fn == "div" for op in prog.ops)
        assert ("div.rn.f32" in ptx) == divides


def test_cupy_backend_needs_cupy_and_a_device() -> None:
    try:
        xp = array_module("cupy")
    except InputError as exc:
        assert "backend cupy needs" in str(exc) and "\n" not in str(exc)
    else:
        assert xp.cuda.runtime.getDeviceCount() > 0
