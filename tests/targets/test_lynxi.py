"""The Lynxi target: a torch module bit-identical to the reference simulator in float32 that
obeys Lynxi's constraints (rank ≤ 4, no in-place op), and the SDK calls without the SDK."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from sjconvert.errors import EmitError, InputError
from sjconvert.exec.module import SpikingNet
from sjconvert.exec.parity import reference_run
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph
from sjconvert.targets.lynxi import (
    check_module,
    compile_lynxi,
    example_input,
    load_lynxi,
    to_lynxi,
    violations,
)
from sjconvert.targets.lynxi.sdk import require_sdk
from tests.targets.snn_graphs import NEURONS, neuron_zoo


def _module_run(graph: Graph, x: torch.Tensor, T: int, **kw) -> tuple:
    """The module executor (the Lynxi module, and the unrolled ONNX model) in float32."""
    net = SpikingNet(graph, T, torch.float32, counts=True, **kw)
    with torch.no_grad():
        rates, *counts = net(x)
    return rates.numpy(), dict(zip(net.neurons, (c.numpy() for c in counts), strict=True))


@pytest.mark.parametrize("name", ["digits", "mnist1d"])
def test_module_is_bit_identical_to_the_reference(samples, name: str) -> None:
    graph, test = samples[name]
    x = test["x"][:64]
    ref_rates, ref_counts, _ = reference_run(graph, x, T=6)
    rates, counts = _module_run(graph, torch.tensor(x), 6)
    assert np.array_equal(rates, ref_rates[-1])
    assert counts.keys() == ref_counts.keys()
    for layer, c in counts.items():
        assert np.array_equal(c, ref_counts[layer]), layer


@pytest.mark.parametrize("kind", sorted(NEURONS))
def test_every_neuron_variant_matches_the_reference(kind: str) -> None:
    """IF/LIF, soft/hard reset, per-channel thresholds and v_init, decay_input both ways,
    a static input meeting a temporal one at an Add with a folded scale."""
    graph = neuron_zoo(NEURONS[kind], np.random.default_rng(1))
    x = np.random.default_rng(2).uniform(-1, 2, size=(16, 2, 6, 6)).astype(np.float32)
    ref_rates, ref_counts, _ = reference_run(graph, x, T=7)
    rates, counts = _module_run(graph, torch.tensor(x), 7)
    assert sum(c.sum() for c in ref_counts.values()) > 0
    assert np.array_equal(rates, ref_rates[-1])
    assert all(np.array_equal(counts[k], ref_counts[k]) for k in ref_counts)


@settings(max_examples=15, deadline=None)
@given(
    leak=st.booleans(),
    hard=st.booleans(),
    decay_input=st.booleans(),
    tau=st.floats(1.0, 8.0),
    th=st.lists(st.floats(0.25, 2.0, width=32), min_size=3, max_size=3),
    v0=st.lists(st.floats(-0.5, 0.875, width=32), min_size=3, max_size=3),
    seed=st.integers(0, 2**16),
)
def test_random_neuron_parameters_stay_bit_identical(leak, hard, decay_input, tau, th, v0, seed):
    th_arr, v0_arr = np.array(th, np.float32), np.array(v0, np.float32)
    v_reset = -0.1 if hard else None
    node = (
        ir.LIF(tau, th_arr, v_reset, decay_input, v0_arr)
        if leak
        else ir.IF(th_arr, v_reset, v0_arr)
    )
    rng = np.random.default_rng(seed)
    graph = neuron_zoo(node, rng)
    x = rng.uniform(-1, 2, size=(4, 2, 6, 6)).astype(np.float32)
    ref_rates, ref_counts, _ = reference_run(graph, x, T=5)
    rates, counts = _module_run(graph, torch.tensor(x), 5)
    assert np.array_equal(rates, ref_rates[-1])
    assert all(np.array_equal(counts[k], ref_counts[k]) for k in ref_counts)


def test_sequence_input_is_step_major_tn(samples) -> None:
    graph, test = samples["digits"]
    T, x = 5, torch.tensor(test["x"][:8])
    seq = x.unsqueeze(0) * torch.linspace(0.5, 1.5, T).reshape(T, 1, 1, 1, 1)  # [T, N, ...]
    ref_rates, ref_counts, _ = reference_run(graph, seq.numpy(), T, sequence=True)
    rates, counts = _module_run(graph, seq.reshape(-1, *seq.shape[2:]), T, sequence=True)
    assert np.array_equal(rates, ref_rates[-1])
    assert all(np.array_equal(counts[k], ref_counts[k]) for k in ref_counts)


def test_to_lynxi_is_float16_rank_4_and_checked(samples) -> None:
    graph, test = samples["digits"]
    net = to_lynxi(graph, T=4)
    assert all(b.dtype == torch.float16 for b in net.buffers())
    x = torch.tensor(test["x"][:32]).half()
    with torch.no_grad():
        rates = net(x)
    assert rates.shape == (32, 10) and rates.dtype == torch.float16
    assert violations(net, example_input(graph, 4, dtype="float16")) == []


class _Bad(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.reshape(2, -1, 4, 4, 4)  # rank 5
        y = y.relu_()  # in-place method
        z = torch.add(x, 1.0, out=x)  # out= writes in place
        return y.sum() + z.sum()


class _SetItem(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x[0] = 1.0  # Lynxi's compiler ignores such writes silently
        return x


def test_checker_lists_every_violation_with_its_node() -> None:
    found = violations(_Bad(), torch.zeros(4, 4, 4, 4))
    assert any(f.startswith("reshape ") and "rank 5 > 4" in f for f in found)
    assert any(f.startswith("relu_ ") and "in-place" in f for f in found)
    assert any(f.startswith("add ") and "in-place" in f for f in found)
    assert any("relu_" in f and "rank 5" in f for f in found)  # its output is 5-D too
    (setitem,) = violations(_SetItem(), torch.zeros(2, 3))
    assert "in-place item assignment" in setitem
    with pytest.raises(EmitError, match=r"breaks Lynxi constraints at \d+ node\(s\): reshape"):
        check_module(_Bad(), torch.zeros(4, 4, 4, 4))
    assert violations(nn.ReLU(inplace=True), torch.zeros(2, 3))  # in-place module flag


class _Normalize(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(x, dim=-1)  # traced with out=None: not in place


def test_an_out_argument_left_none_is_not_an_in_place_write() -> None:
    assert violations(_Normalize(), torch.ones(2, 3)) == []


def test_build_refuses_what_it_cannot_express_in_one_line() -> None:
    g = Graph(
        {"x": ir.Input((1, 4)), "m": ir.MaxPool1d(2, 2)},
        {"x": (), "m": ("x",)},
        ("m",),
        {"x": (1, 4), "m": (1, 2)},
    )
    assert to_lynxi(g, 2, "float32")(torch.zeros(3, 1, 4)).shape == (3, 1, 2)
    two_inputs = Graph(
        {"x": ir.Input((4,)), "a": ir.Input((4,)), "s": ir.Add()},
        {"x": (), "a": (), "s": ("x", "a")},
        ("s",),
        {"x": (4,), "a": (4,), "s": (4,)},
    )
    with pytest.raises(EmitError, match="one input, it has 2"):
        to_lynxi(two_inputs, 2)
    with pytest.raises(InputError, match="dtype must be one of float32, float16"):
        to_lynxi(g, 2, "bfloat16")
    with pytest.raises(InputError, match="T must be >= 1"):
        to_lynxi(g, 0)


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("lyngor") is not None,
    reason="Lynxi SDK installed: the missing-SDK message cannot be shown",
)
def test_sdk_calls_fail_with_one_line_without_the_sdk(samples) -> None:
    graph, _ = samples["digits"]
    for call in (
        require_sdk,
        lambda: compile_lynxi(to_lynxi(graph, 2), "out", (1, 1, 8, 8)),
        lambda: load_lynxi("out/Net_0"),
    ):
        with pytest.raises(EmitError) as info:
            call()
        msg = str(info.value)
        assert "is not installed" in msg and "\n" not in msg and "lyn" in msg


def test_missing_onnx_packages_are_named_in_one_line(monkeypatch, tmp_path) -> None:
    """Runs in both environments; the Lava one has no ONNX packages at all."""
    import importlib.util

    from typer.testing import CliRunner

    from sjconvert.cli.main import app
    from sjconvert.frontends.loading import load_model
    from sjconvert.targets import onnx as onnx_target

    real = importlib.util.find_spec
    monkeypatch.setattr(
        onnx_target.importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("onnx", "onnxruntime") else real(name, *a),
    )
    (tmp_path / "m.onnx").write_bytes(b"")
    with pytest.raises(InputError, match=r"m\.onnx needs .*onnx.*sjconvert\[onnx\]"):
        load_model(tmp_path / "m.onnx")
    result = CliRunner().invoke(
        app, ["to-onnx", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "o.onnx"), "--form", "step"]
    )
    assert result.exit_code == 5 and "ONNX export needs" in result.output
    assert len(result.output.strip().splitlines()) == 1
