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
