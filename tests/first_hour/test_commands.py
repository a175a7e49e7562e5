"""First hour, the commands: outputs and options, metadata, files other commands refuse, NIR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import sjconvert
from tests.first_hour.user import refused, works

pytestmark = pytest.mark.examples


@pytest.mark.plot
@pytest.mark.parametrize(
    ("plot", "named"),
    [("m.sjir", "not an image type"), ("name", "no file type"), ("no/dir/p.png", "no/dir")],
)
def test_a_bad_plot_name_is_refused_before_the_run(home: Path, plot: str, named: str) -> None:
    line = refused(home, 2, "simulate", "m.sjir", "--data", "test.npz", "--plot", plot)
    assert named in line


@pytest.mark.plot
def test_a_plot_says_where_it_went(home: Path) -> None:
    res = works(home, "simulate", "m.sjir", "--data", "test.npz", "-T", "4", "--plot", "p.png")
    assert "wrote the plot to p.png" in res.stdout and (home / "p.png").stat().st_size > 0
    (home / "p.png").unlink()


@pytest.mark.parametrize(
    "args",
    [
        ("simulate", "m.sjir", "--data", "test.npz", "-T", "4,,8"),
        ("to-onnx", "m.sjir", "-o", "m.onnx", "-T", "0"),
        ("to-nir", "m.sjir", "-o", "m.nir", "-T", "0"),
        ("simulate", "m.sjir", "--data"),
        ("simulate", "m.sjir", "--data", "test.npz", "--no-such-option"),
    ],
    ids=lambda a: " ".join(a),
)
def test_every_usage_error_is_one_line(home: Path, args: tuple[str, ...]) -> None:
    refused(home, 2, *args)


def test_to_lynxi_makes_no_chain_of_folders(home: Path) -> None:
    assert "folder a/b does not exist" in refused(home, 2, "to-lynxi", "m.sjir", "-o", "a/b/c")


def test_version_and_help(home: Path) -> None:
    assert works(home, "--version").stdout.strip() == f"sjconvert {sjconvert.__version__}"
    text = " ".join(works(home, "ann2snn", "--help").stdout.split())
    assert "(4 for signed neurons, 1 for if)" in text and "in one step ." not in text


def test_json_reports_the_effective_options(home: Path) -> None:
    res = works(home, "ann2snn", "model.pt", "--trust", "--calib", "calib.npz", "-o", "j.sjir",
                "-T", "0", "--json")  # fmt: skip
    assert json.loads(res.stdout)["options"]["burst"] == 4
    (home / "j.sjir").unlink()


# -- files other commands refuse -------------------------------------------------------------


def test_inspect_refuses_what_simulate_refuses(home: Path) -> None:
    import h5py

    bad = home / "bad.sjir"
    bad.write_bytes((home / "m.sjir").read_bytes())
    with h5py.File(bad, "r+") as f:
        nodes = f["graph/nodes"]
        name = next(n for n in nodes if nodes[n].attrs["op"] == "SignedIF")
        fields = json.loads(nodes[name].attrs["fields"])
        nodes[name].attrs["fields"] = json.dumps(fields | {"v_threshold": -1.0})
    try:
        for args in (("inspect", "bad.sjir"), ("inspect", "bad.sjir", "--source")):
            assert "v_threshold must be > 0" in refused(home, 2, *args)
    finally:
        bad.unlink()


@pytest.mark.onnx
@pytest.mark.parametrize("case", ["huge kernel", "no outputs"])
def test_a_malformed_onnx_model_is_one_line(home: Path, case: str) -> None:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, "h", "w"])
    node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[1 << 40, 1 << 40])
    if case == "no outputs":
        node = helper.make_node("Relu", ["x"], ["y"])
    graph = helper.make_graph([node], "g", [x], [y] if case == "huge kernel" else [])
    path = home / "bad.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    try:
        refused(home, 2, "ann2snn", "bad.onnx", "--calib", "calib.npz", "-o", "o.sjir")
    finally:
        path.unlink()


# -- NIR ---------------------------------------------------------------------------------------


def test_to_nir_names_what_nir_cannot_hold(home: Path) -> None:
    """The user's model concatenates: NIR has no concatenation (exit 3, named)."""
    line = refused(home, 3, "to-nir", "model.pt", "--trust", "--calib", "calib.npz",
                   "-o", "m.nir")  # fmt: skip
    assert "'cat' (Concat)" in line


def test_to_nir_refuses_a_lossy_export_that_loses_accuracy(home: Path) -> None:
    args = ["to-nir", "small.pt", "--arch", "mynet:Small", "--calib", "calib.npz", "-o"]
    args += ["s.nir", "--lossy", "soft-reset-as-hard", "--lossy", "maxpool-as-avgpool"]
    args += ["--data", "test.npz", "-T", "8,32"]
    line = refused(home, 1, *args)
    assert "more than --max-loss 0.02" in line and "not written" in line
    works(home, *args, "--accept-loss")
    assert (home / "s.nir").exists()
    (home / "s.nir").unlink()
