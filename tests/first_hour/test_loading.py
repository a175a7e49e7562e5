"""First hour, loading: models and data as users save them, and the API's one batch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import sjconvert
from sjconvert.api import read_with_source
from tests.first_hour.user import refused, works

pytestmark = pytest.mark.examples


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
