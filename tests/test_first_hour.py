"""A new user's first hour (issue 26), scripted: the installed ``sjconvert`` console script,
run from a folder outside the repository, on a small model of the user's own — a residual
add, a concatenation and a max pool in ``./mynet.py``, trained here on the digits — and its
data saved the ways users save data.

Every case ends as the product rule says: success, or one ``error:`` line with the
documented exit code, no traceback, no internal error, and no file left behind.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

import sjconvert
from sjconvert.api import read_with_source
from tests.conftest import ROOT

pytestmark = pytest.mark.examples

MYNET = '''
"""The user's models: residual add, concatenation and max pooling; and a plain CNN."""

import torch
from torch import nn


class MyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU())
        self.branch = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.side = nn.Sequential(nn.Conv2d(8, 4, 1), nn.ReLU())
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(12 * 16, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem(x)
        r = s + self.branch(s)
        c = torch.cat([r, self.side(s)], dim=1)
        return self.head(self.pool(c))


class Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(128, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
'''


def _train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.nn.Module:
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(6):
        for i in range(0, len(x), 64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[i : i + 64]), y[i : i + 64]).backward()
            opt.step()
    return model.eval()


def _save_data(home: Path, x: np.ndarray, y: np.ndarray) -> None:
    """The test set, saved every way a user saves data."""
    np.savez(home / "test.npz", x=x, y=y)
    np.savez(home / "named.npz", images=x, labels=y)
    np.savez(home / "three.npz", images=x, labels=y, ids=np.arange(len(y)))
    np.savez(home / "nhwc.npz", x=x.transpose(0, 2, 3, 1), y=y)
    np.save(home / "x.npy", x)
    np.savez(home / "u8.npz", x=(x * 255).round().astype(np.uint8), y=y)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    torch.save(dataset, home / "dataset.pt")
    with open(home / "xy.pkl", "wb") as f:
        pickle.dump((x, y), f)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The user's folder, outside the repository: mynet.py, the trained models (whole and
    as a state dict) and the data; the user's model converted once (``m.sjir``)."""
    home = tmp_path_factory.mktemp("first_hour")
    (home / "mynet.py").write_text(textwrap.dedent(MYNET))
    spec = importlib.util.spec_from_file_location("mynet", home / "mynet.py")
    assert spec is not None and spec.loader is not None
    mynet = importlib.util.module_from_spec(spec)
    sys.modules["mynet"] = mynet  # pickled as the user's ./mynet.py
    try:
        spec.loader.exec_module(mynet)
        with np.load(ROOT / "samples" / "digits_calib.npz") as f:
            calib_x, calib_y = f["x"], f["y"]
        xt, yt = torch.from_numpy(calib_x), torch.from_numpy(calib_y).long()
        torch.save(_train(mynet.MyNet(), xt, yt), home / "model.pt")
        torch.save(_train(mynet.Small(), xt, yt).state_dict(), home / "small.pt")
    finally:
        del sys.modules["mynet"]
    np.savez(home / "calib.npz", x=calib_x)
    with np.load(ROOT / "samples" / "digits_test.npz") as f:
        _save_data(home, f["x"], f["y"])
    res = run(home, "ann2snn", "model.pt", "--trust", "--calib", "calib.npz", "-o", "m.sjir")
    assert res.returncode == 0, res.stderr
    yield home


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``sjconvert ARGS`` as the user runs it: the environment's console script, in the
    user's folder, with nothing of the repository importable but sjconvert."""
    link = home.parent / f"{home.name}_path"
    if not link.exists():
        link.mkdir()
        (link / "sjconvert").symlink_to(ROOT / "sjconvert")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SJCONVERT_DEBUG")}
    env |= {"PYTHONPATH": str(link), "COLUMNS": "200"}
    script = Path(sys.executable).parent / "sjconvert"
    return subprocess.run(
        [str(script), *args], cwd=home, env=env, capture_output=True, text=True, timeout=600
    )


def files(home: Path) -> set[str]:
    return {p.name for p in home.iterdir()}


def refused(home: Path, code: int, *args: str) -> str:
    """Run a command that must fail: one ``error:`` line on stderr, exit ``code``, no
    traceback, nothing on stdout, no file left behind. Returns the line."""
    before = files(home)
    res = run(home, *args)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    what = f"{' '.join(args)} -> exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    assert res.returncode == code, what
    assert len(lines) == 1 and lines[0].startswith("error: "), what
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr, what
    assert res.stdout.strip() == "", what
    assert files(home) == before, f"left behind: {files(home) - before}"
    return lines[0]


def works(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    res = run(home, *args)
    assert res.returncode == 0, f"{' '.join(args)}\n{res.stdout}\n{res.stderr}"
    assert "internal error" not in res.stderr
    return res


# -- loading as users save things ----------------------------------------------------------


def test_a_whole_pickled_model_from_the_working_directory(home: Path) -> None:
    """``torch.save(model)`` whose class lives in ./mynet.py converts with --trust (it made
    "not a torch file (No module named 'mynet')"); without --trust one line says why."""
    assert (home / "m.sjir").exists()
    line = refused(home, 2, "ann2snn", "model.pt", "--calib", "calib.npz", "-o", "n.sjir")
    assert "--trust" in line


def test_a_state_dict_with_its_class(home: Path) -> None:
    works(home, "ann2snn", "small.pt", "--arch", "mynet:Small", "--calib", "calib.npz", "-o",
          "small.sjir")  # fmt: skip
    (home / "small.sjir").unlink()


@pytest.mark.parametrize(
    "data",
    ["test.npz", "named.npz", "x.npy", "dataset.pt --trust", "xy.pkl --trust"],
)
def test_data_as_users_save_it(home: Path, data: str) -> None:
    res = works(home, "simulate", "m.sjir", "--data", *data.split(), "-T", "4,16", "--json")
    result = json.loads(res.stdout)
    assert result["samples"] == 360
    assert result["metric"] == ("agreement_with_ann" if data == "x.npy" else "accuracy")
    assert result["snn"]["16"] > 0.8


def test_arrays_under_other_names(home: Path) -> None:
    line = refused(home, 2, "simulate", "m.sjir", "--data", "three.npz")
    assert "images [360, 1, 8, 8] float32" in line and "labels [360] int64" in line
    assert "--x-key" in line
    args = ["--data", "three.npz", "--x-key", "images", "--y-key", "labels", "-T", "2"]
    assert json.loads(works(home, "simulate", "m.sjir", *args, "--json").stdout)["samples"] == 360


@pytest.mark.parametrize("data", ["dataset.pt", "xy.pkl"])
def test_pickled_data_needs_trust(home: Path, data: str) -> None:
    assert "--trust" in refused(home, 2, "simulate", "m.sjir", "--data", data)


def test_channels_last_data_names_the_layout(home: Path) -> None:
    """NHWC data is the data's fault (exit 2, with the transpose), not the model's (3)."""
    for args in (
        ("simulate", "m.sjir", "--data", "nhwc.npz"),
        ("ann2snn", "model.pt", "--trust", "--calib", "nhwc.npz", "-o", "n.sjir"),
    ):
        line = refused(home, 2, *args)
        assert "NHWC" in line and "NCHW" in line and "x.transpose(0, 3, 1, 2)" in line


def test_unscaled_integer_data_is_warned_about(home: Path) -> None:
    res = works(home, "simulate", "m.sjir", "--data", "u8.npz", "-T", "4")
    assert "warning: u8.npz: 'x' holds integers up to 255 (uint8)" in res.stderr


def test_the_api_takes_a_tensor_or_a_pair_as_one_batch(home: Path) -> None:
    with np.load(home / "test.npz") as f:
        x, y = torch.from_numpy(f["x"]), torch.from_numpy(f["y"])
    snn, ann = read_with_source(home / "m.sjir")
    unlabelled = sjconvert.simulate(snn, x, T=16, ann=ann)  # agreement with the ANN
    assert unlabelled.samples == 360 and not unlabelled.labelled
    labelled = sjconvert.simulate(snn, (x, y), T=16)
    assert labelled.samples == 360 and labelled.labelled and labelled.snn[16] > 0.8


# -- output and options ---------------------------------------------------------------------


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


# -- resources (last: the longest runs) -----------------------------------------------------


def peak_kib(home: Path, *args: str) -> int:
    """The peak resident memory (KiB) of ``sjconvert ARGS`` run as :func:`run` runs it
    (the fixture made its import path)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SJCONVERT_DEBUG")}
    env["PYTHONPATH"] = str(home.parent / f"{home.name}_path")
    script = Path(sys.executable).parent / "sjconvert"
    proc = subprocess.Popen(
        [str(script), *args], cwd=home, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, f"{' '.join(args)}: exit {proc.returncode}"
    return int(usage.ru_maxrss)


def test_memory_does_not_grow_with_T(home: Path) -> None:
    """A simulation keeps running sums, not every step: 32 times the steps, about the same
    peak memory (it grew linearly: 0.8 GB at T = 256, 6.9 GB at T = 4096 on 50 samples)."""
    with np.load(home / "test.npz") as f:
        np.savez(home / "t8.npz", x=f["x"][:8], y=f["y"][:8])
    try:
        args = ["simulate", "m.sjir", "--data", "t8.npz", "--json", "-T"]
        low, high = peak_kib(home, *args, "64"), peak_kib(home, *args, "2048")
    finally:
        (home / "t8.npz").unlink()
    assert high < 1.25 * low, f"peak {low} KiB at T=64, {high} KiB at T=2048"
