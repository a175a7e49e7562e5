"""ANN import from ONNX (``onnx`` alone, straight to the IR): models exported from torch, one
built node by node with onnx.helper, each op's builder against ONNX Runtime, and the errors
for bad files."""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

import sjconvert
from sjconvert.errors import InputError, UnsupportedOpError
from sjconvert.exec import Simulator
from sjconvert.frontends.loading import load_model
from sjconvert.ir import nodes as ir
from tests.conftest import load_sample


def _export(model: nn.Module, x: torch.Tensor, path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (x,),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["x"],
            dynamic_axes={"x": {0: "n"}},
        )


class _ViewNet(nn.Module):
    """x.view(N, -1): exporters emit a Shape → Gather → Concat → Reshape chain for it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.avg_pool2d(torch.relu(self.conv(x)), 2)
        return self.fc(y.view(y.shape[0], -1))


@pytest.mark.parametrize("name", ["digits", "mnist1d", "view"])
def test_torch_exported_models_capture_to_the_same_function(name, tmp_path) -> None:
    if name == "view":
        model, x = _ViewNet().eval(), torch.rand(16, 1, 8, 8)
    else:
        model, test, _ = load_sample(name)
        x = torch.tensor(test["x"][:16])
    _export(model, x[:4], tmp_path / "m.onnx")
    graph = load_model(tmp_path / "m.onnx")
    got = Simulator(graph).rate(x)[graph.outputs[0]]
    with torch.no_grad():
        np.testing.assert_allclose(got.numpy(), model(x).numpy(), rtol=1e-4, atol=1e-4)
    if name == "mnist1d":
        assert sum(isinstance(n, ir.Add) for _, n in graph) == 2  # the residual adds


def test_converting_an_imported_onnx_model_matches_converting_the_torch_model(tmp_path) -> None:
    model, test, calib = load_sample("mnist1d")
    _export(model, torch.tensor(test["x"][:4]), tmp_path / "m.onnx")
    c = [calib["x"][:128]]
    from_onnx = sjconvert.ann2snn(tmp_path / "m.onnx", c)
    from_torch = sjconvert.ann2snn(model, c)
    means = [sorted(float(np.mean(v)) for v in c.scales.values()) for c in (from_onnx, from_torch)]
    assert means[0] == pytest.approx(means[1], rel=1e-4)
    x = torch.tensor(test["x"][:200])
    a = sjconvert.run(from_onnx.snn, x, T=16).output[-1].argmax(-1)
    b = sjconvert.run(from_torch.snn, x, T=16).output[-1].argmax(-1)
    assert float((a == b).float().mean()) >= 0.99


def _helper_model() -> onnx.ModelProto:
    """Conv → BatchNormalization → Relu → GlobalAveragePool → Flatten → Gemm, written node by
    node as another framework's exporter would (NCHW, weights as initializers)."""
    r = np.random.default_rng(0)
    inits = {
        "w": r.normal(0, 0.5, (6, 3, 3, 3)),
        "b": r.normal(0, 0.1, 6),
        "scale": r.uniform(0.5, 1.5, 6),
        "shift": r.normal(0, 0.1, 6),
        "mean": r.normal(0, 0.1, 6),
        "var": r.uniform(0.5, 1.5, 6),
        "fw": r.normal(0, 0.5, (5, 6)),
        "fb": r.normal(0, 0.1, 5),
    }
    nodes = [
        helper.make_node("Conv", ["in", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node(
            "BatchNormalization", ["c", "scale", "shift", "mean", "var"], ["bn"], name="bn"
        ),
        helper.make_node("Relu", ["bn"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["out"], transB=1, name="fc"),
    ]
    graph = helper.make_graph(
        nodes,
        "other_framework",
        [helper.make_tensor_value_info("in", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 5])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_hand_built_onnx_model_matches_onnx_runtime(tmp_path) -> None:
    model = _helper_model()
    onnx.save(model, str(tmp_path / "other.onnx"))
    x = np.random.default_rng(1).uniform(0, 1, (32, 3, 8, 8)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString()).run(None, {"in": x})[0]
    graph = load_model(tmp_path / "other.onnx")
    assert [n.op for _, n in graph][1:5] == ["Conv2d", "BatchNorm", "ReLU", "AvgPool2d"]
    got = Simulator(graph).rate(torch.tensor(x))[graph.outputs[0]].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    snn = sjconvert.ann2snn(tmp_path / "other.onnx", [x]).snn
    assert any(n.spiking for _, n in snn)


def _one_node(tmp_path, op: str, **attrs) -> str:
    graph = helper.make_graph(
        [helper.make_node(op, ["x"], ["y"], name="odd", **attrs)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])],
    )
    path = tmp_path / f"{op}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)


def test_bad_files_and_unsupported_ops_fail_with_one_line(tmp_path) -> None:
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07 not protobuf at all \xff\xfe")
    with pytest.raises(InputError, match=r"junk\.onnx: not an ONNX"):
        load_model(tmp_path / "junk.onnx")
    with pytest.raises(UnsupportedOpError, match=r"cannot capture 1 Hardmax; at odd \(Hardmax\)"):
        load_model(_one_node(tmp_path, "Hardmax"))
    with pytest.raises(UnsupportedOpError, match=r"1 Sigmoid; at odd"):
        load_model(_one_node(tmp_path, "Sigmoid"))
    onnx.save(_helper_model(), str(tmp_path / "other.onnx"))
    with pytest.raises(InputError, match=r"shape \[2, 1, 8, 8\] does not fit input") as info:
        sjconvert.ann2snn(tmp_path / "other.onnx", [np.zeros((2, 1, 8, 8), np.float32)])
    assert "\n" not in str(info.value)


def test_exported_bytes_are_a_valid_import(tmp_path) -> None:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            nn.Sequential(nn.Linear(4, 3), nn.ReLU()),
            (torch.zeros(1, 4),),
            buf,
            dynamo=False,
            opset_version=17,
        )
    (tmp_path / "lin.onnx").write_bytes(buf.getvalue())
    graph = load_model(tmp_path / "lin.onnx")
    assert [n.op for _, n in graph] == ["Input", "Linear", "ReLU"]


def _const(name: str, value) -> onnx.NodeProto:
    return helper.make_node(
        "Constant", [], [name], value=numpy_helper.from_array(np.asarray(value), name)
    )


def _ops_model() -> onnx.ModelProto:
    """Pad → Conv, Split, Slice, Transpose, Reshape via Shape arithmetic, Clip, Mul and Div
    by constants, ReduceMean, Squeeze/Unsqueeze, MatMul + Add and Concat: every builder an
    exporter's graph may need, written as another framework would."""
    r = np.random.default_rng(0)
    inits = {
        "w": r.normal(0, 0.5, (4, 2, 3, 3)),
        "fw": r.normal(0, 0.5, (12, 5)),
        "fb": r.normal(0, 0.1, 5),
        "s": r.uniform(0.5, 1.5, (1, 2, 1, 1)),
    }
    n = helper.make_node
    nodes = [
        _const("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)),
        n("Pad", ["in", "pads"], ["p"]),
        n("Conv", ["p", "w"], ["c"]),
        _const("lo", np.float32(0.0)),
        _const("hi", np.float32(4.0)),
        n("Clip", ["c", "lo", "hi"], ["r"]),
        _const("sizes", np.array([2, 2], np.int64)),
        n("Split", ["r", "sizes"], ["a", "b"], axis=1),
        n("Mul", ["a", "s"], ["as"]),
        _const("four", np.float32(4.0)),
        n("Div", ["b", "four"], ["bs"]),
        n("Add", ["as", "bs"], ["sum"]),
        n("Transpose", ["sum"], ["t"], perm=[0, 1, 3, 2]),
        _const("st", np.array([1], np.int64)),
        _const("en", np.array([3], np.int64)),
        _const("ax", np.array([3], np.int64)),
        n("Slice", ["t", "st", "en", "ax"], ["sl"]),
        n("ReduceMean", ["sl"], ["m"], axes=[3], keepdims=1),
        n("Shape", ["m"], ["shape"]),
        _const("zero", np.array([0], np.int64)),
        n("Gather", ["shape", "zero"], ["batch"], axis=0),
        _const("rest", np.array([-1], np.int64)),
        n("Concat", ["batch", "rest"], ["target"], axis=0),
        n("Reshape", ["m", "target"], ["flat"]),
        n("Unsqueeze", ["flat", "st"], ["u"]),
        n("Squeeze", ["u", "st"], ["sq"]),
        n("MatMul", ["sq", "fw"], ["mm"]),
        n("Add", ["mm", "fb"], ["lin"]),
        n("Relu", ["lin"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "ops",
        [helper.make_tensor_value_info("in", TensorProto.FLOAT, ["batch", 2, 6, 6])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 5])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_every_builder_matches_onnx_runtime(tmp_path) -> None:
    model = _ops_model()
    onnx.save(model, str(tmp_path / "ops.onnx"))
    graph = load_model(tmp_path / "ops.onnx")  # checked against ONNX Runtime on import
    ops = [n.op for _, n in graph]
    assert ops.count("Slice") == 3 and ops.count("Scale") == 2 and "Transpose" in ops
    conv = next(n for _, n in graph if isinstance(n, ir.Conv2d))
    assert conv.padding == (1, 1) and "Pad" not in ops  # the Pad folded into the conv
    linear = next(n for _, n in graph if isinstance(n, ir.Linear))
    np.testing.assert_allclose(linear.bias, numpy_helper.to_array(model.graph.initializer[2]))
    x = np.random.default_rng(3).uniform(0, 1, (16, 2, 6, 6)).astype(np.float32)
    want = ort.InferenceSession(model.SerializeToString()).run(None, {"in": x})[0]
    got = Simulator(graph).rate(torch.tensor(x))[graph.outputs[0]].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_every_unsupported_onnx_node_is_reported_at_once(tmp_path) -> None:
    n = helper.make_node
    nodes = [
        n("Sigmoid", ["x"], ["a"], name="s1"),
        n("Mul", ["a", "x"], ["b"], name="gate"),
        n("Tanh", ["b"], ["c"], name="t1"),
        n("Sigmoid", ["c"], ["y"], name="s2"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])],
    )
    onnx.save(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "u.onnx"
    )
    with pytest.raises(
        UnsupportedOpError,
        match=r"cannot capture 2 Sigmoid, 1 Tanh; at s1 \(Sigmoid\), t1 \(Tanh\), s2",
    ):
        load_model(tmp_path / "u.onnx")
