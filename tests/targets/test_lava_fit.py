"""``sjconvert fit``: the Loihi 2 fit report of a NetX file."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from sjconvert.cli.main import app
from sjconvert.errors import InputError
from sjconvert.targets.lava.chip_fit import NEURONS_PER_CORE, fit_report

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


@pytest.fixture(scope="module")
def digits_net(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fit") / "digits.net"
    args = [str(SAMPLES / "digits_cnn.pt"), "--arch", "samples.models:DigitsCNN"]
    args += ["--calib", str(SAMPLES / "digits_calib.npz"), "-o", str(out), "--json"]
    res = CliRunner().invoke(app, ["to-lava", *args, "--neuron", "cuba"])
    assert res.exit_code == 0, res.output
    return out


def _dense_file(path: Path, n_in: int, n_out: int, scale: int = 100) -> Path:
    with h5py.File(path, "w") as f:
        layers = f.create_group("layer")
        layers.create_group("0").create_dataset("type", data=np.bytes_("input"))
        layers["0"].create_dataset("shape", data=np.array([n_in]))
        g = layers.create_group("1")
        g.create_dataset("type", data=np.bytes_("dense"))
        g.create_dataset("shape", data=np.array([n_out]))
        w = np.random.default_rng(0).integers(-scale, scale + 1, (n_out, n_in))
        g.create_dataset("weight", data=w.astype(np.float32))
        g.create_group("neuron").create_dataset("type", data=np.bytes_("CUBA"))
    return path


def test_a_process_graph_counts_every_synapse_into_a_population(tmp_path: Path) -> None:
    """The residual MNIST-1D net: a population fed by a conv and a depthwise skip sums both
    fan-ins; one read by two synapses sums both fan-outs."""
    out = tmp_path / "res.lpg.npz"
    args = [str(SAMPLES / "mnist1d_rescnn.pt"), "--arch", "samples.models:ResCNN1d"]
    args += ["--calib", str(SAMPLES / "mnist1d_calib.npz"), "-o", str(out), "-T", "8"]
    res = CliRunner().invoke(app, ["to-lava", *args, "--json"])
    assert res.exit_code == 0, res.output
    rows = {r.name: r for r in fit_report(out)}
    add = rows["block1_relu2"]  # the skip waits one step on a delayed convolution of ours
    assert add.kind == "delayconv+conv" and add.fan_in == 32 * 3 + 1
    assert add.neuron == "GradedIF" and add.ours and not rows["fc_readout"].ours
    assert add.neurons == 32 * 40 and add.synapses == add.neurons * add.fan_in
    assert rows["stem_relu"].fan_out == 32 * 3 + 1  # block1's first conv and the skip
    assert rows["fc_readout"].fan_in == 640 and rows["fc_readout"].kind == "dense"


def test_counts_follow_the_layer_geometry(digits_net: Path) -> None:
    rows = fit_report(digits_net)
    assert [r.kind for r in rows] == ["conv", "conv", "conv", "dense", "dense"]
    first, last = rows[0], rows[-1]
    assert first.fan_in == 1 * 3 * 3 and first.neurons == 16 * 8 * 8
    assert last.neurons == 10 and last.fan_in == 64 and last.synapses == 640
    assert all(1 <= r.weight_bits <= 8 for r in rows)
    assert all(r.synapses == r.neurons * r.fan_in for r in rows)


def test_a_layer_too_big_for_one_core_is_named_with_a_remedy(tmp_path: Path) -> None:
    (row,) = fit_report(_dense_file(tmp_path / "big.net", 1000, 3 * NEURONS_PER_CORE))
    assert row.cores >= 3 and row.weight_bits == 8
    assert "split over" in row.advice and "-bit weights" in row.advice
    (small,) = fit_report(_dense_file(tmp_path / "small.net", 10, 10))
    assert small.cores == 1 and small.advice == ""


def test_cli_json_and_bad_files(digits_net: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["fit", str(digits_net), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert info["cores"] >= len(info["layers"]) and info["limits"]["neurons_per_core"] == 8192
    bad = tmp_path / "x.net"
    bad.write_text("not hdf5")
    res = CliRunner().invoke(app, ["fit", str(bad)])
    assert res.exit_code == 2 and "not a readable NetX" in res.output
    assert "Traceback" not in res.output
    with pytest.raises(InputError, match="no 'layer' group"):
        with h5py.File(tmp_path / "empty.net", "w"):
            pass
        fit_report(tmp_path / "empty.net")
