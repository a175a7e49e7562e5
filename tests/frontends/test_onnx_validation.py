"""The ONNX validation step: what the importer never sees (other files, complex or NaN
initializers, ancient opsets, broken graphs) is one InputError naming the problem."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sjconvert.errors import InputError
from sjconvert.frontends.validate_onnx import read_onnx


def _onnx(path: Path, **edits: object) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((3, 4), np.float32), "w")
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    init = model.graph.initializer[0]
    if "external" in edits:
        init.ClearField("raw_data")
        init.data_location = TensorProto.EXTERNAL
        entry = init.external_data.add()
        entry.key, entry.value = "location", str(edits["external"])
    if "array" in edits:
        init.CopyFrom(numpy_helper.from_array(edits["array"], "w"))
    if "opset" in edits:
        model.opset_import[0].version = edits["opset"]
    if "input" in edits:
        node.input[0] = str(edits["input"])
        model.graph.node[0].input[0] = str(edits["input"])
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(
    ("edits", "named"),
    [
        ({"external": "../../etc/passwd"}, "stored in another file"),
        ({"array": np.ones((3, 4), np.complex64)}, "holds complex64 values"),
        ({"array": np.full((3, 4), np.nan, np.float32)}, "holds NaN or Inf"),
        ({"opset": 1}, "opset 1 is not supported"),
        ({"input": "ghost"}, "invalid ONNX model"),
    ],
)
def test_onnx_files_are_validated_before_import(tmp_path: Path, edits: dict, named: str) -> None:
    assert read_onnx(_onnx(tmp_path / "ok.onnx")).graph.node[0].op_type == "MatMul"
    with pytest.raises(InputError) as err:
        read_onnx(_onnx(tmp_path / "m.onnx", **edits))
    assert named in str(err.value)


def _conv(path: Path, kernel: list[int], outputs: bool = True) -> Path:
    """A one-Conv model whose kernel_shape attribute may disagree with its 3x3 weight."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=kernel)
    out = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, "h", "w"])]
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])],
        out if outputs else [],
        [w],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.mark.parametrize(
    ("kernel", "outputs", "named"),
    [
        ([1 << 40, 3], True, "kernel_shape 1099511627776, not a size a tensor can have"),
        ([5, 5], True, r"kernel_shape \[5, 5\] but its weight 'w' is \[2, 1, 3, 3\]"),
        ([3, 3], False, "the graph has no outputs"),
    ],
)
def test_malformed_graphs_are_input_errors(
    tmp_path: Path, kernel: list[int], outputs: bool, named: str
) -> None:
    with pytest.raises(InputError, match=named):
        read_onnx(_conv(tmp_path / "m.onnx", kernel, outputs))


def test_a_malformed_model_is_one_line_exit_2_without_onnx_runtimes_log(tmp_path: Path) -> None:
    """Through the installed command line: one line, exit 2, nothing from ONNX Runtime."""
    import subprocess
    import sys

    model = _conv(tmp_path / "big.onnx", [1 << 40, 3])
    np.savez(tmp_path / "c.npz", x=np.ones((4, 1, 8, 8), np.float32))
    calib, out = str(tmp_path / "c.npz"), str(tmp_path / "o.sjir")
    res = subprocess.run(
        [sys.executable, "-m", "sjconvert", "ann2snn", str(model), "--calib", calib, "-o", out],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2, res.stderr
    assert res.stdout == "" and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "onnxruntime" not in res.stderr and not (tmp_path / "o.sjir").exists()
