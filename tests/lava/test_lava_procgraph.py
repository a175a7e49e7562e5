"""Lava process graphs written by sjconvert run in Lava's fixed-point Loihi 2 simulator with
exactly the messages and output states our fixed-point simulator predicts: random DAGs with
residual adds, scaled skips, concatenation, pools, Conv1d/Conv2d (CUBA and sigma-delta),
the bundled MNIST-1D residual CNN, LIF / ParametricLIF layers with every hard reset, and
the artifact loaded by the standalone loader in an interpreter without sjconvert or torch."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sjconvert import ann2snn
from sjconvert.errors import PassError
from sjconvert.ir import nodes as ir
from sjconvert.targets.lava.build import LOADER, to_loihi
from sjconvert.targets.lava.fixed_point.simulator import simulate
from tests.conftest import chain, load_sample
from tests.lava.parity import export_parity
from tests.targets.lava_graphs import snn_dags

pytestmark = pytest.mark.lava

MODELS = {"if": "cuba", "lif": "cuba", "soft": "sdnn"}


@pytest.mark.parametrize("neuron", list(MODELS))
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_dags(neuron, data, tmp_path_factory):
    """Hard-reset IF and LIF (CUBA) and soft-reset IF (sigma-delta) DAGs, 2 samples."""
    graph, r = data.draw(snn_dags(neuron))
    model = MODELS[neuron]
    steps = 12
    exp = to_loihi(graph, steps, x_max=2.0, model=model, fmt="procgraph")
    xq = exp.graph.encode(r.uniform(0, 2, (2, *graph.shapes["x"])))
    ours = export_parity(exp, xq, tmp_path_factory.mktemp("dag"))
    first = next(iter(ours.spikes.values()))
    assert 0 < np.mean(first != 0) < 1, "the stem population must be active, not saturated"


@pytest.fixture(scope="module")
def mnist1d():
    model, test, calib = load_sample("mnist1d")
    return ann2snn(model, [calib["x"][:128]], T=None, v_init=0.0, neuron="if").snn, test


@pytest.mark.parametrize("model", ["sdnn", "cuba"])
def test_mnist1d_residual_cnn(mnist1d, model, tmp_path):
    """Conv1d, residual adds, scaled skips and a pool read twice: 3 samples, every
    population's messages and the readout, sigma-delta (T = 8) and CUBA (T = 16)."""
    snn, test = mnist1d
    exp = to_loihi(snn, 8 if model == "sdnn" else 16, model=model, alpha=0.7)
    assert exp.format == "procgraph"
    ours = export_parity(exp, exp.graph.encode(test["x"][:3]), tmp_path)
    assert ours.spikes["block2_relu2"].any()


@pytest.mark.parametrize(
    ("decay_input", "decay", "v_reset", "v_init"),
    [
        (True, None, 0.0, 0.0),
        (False, None, -0.3, -0.3),
        (True, 0.3, 0.2, 0.2),
        (False, 0.15, 0.0, 0.4),
    ],
)
def test_lif_and_parametric_lif(decay_input, decay, v_reset, v_init, tmp_path):
    """A SpikingJelly-style SNN, ``Conv → IF → AvgPool → Flatten → Linear → LIF → Linear →
    LIF`` (LIF or ParametricLIF, both ``decay_input`` forms, hard resets to 0 and away from
    0), on spike input; SpikingJelly's neurons start at ``v_reset`` (NetX), or elsewhere
    (an initial membrane: a process graph)."""
    r = np.random.default_rng(7)
    tau = 1 / decay if decay else 2.5
    gain = tau if decay_input else 1.0
    g = chain(
        (2, 8, 8),
        ir.Conv2d(r.normal(0.3, 0.5, (4, 2, 3, 3)), None, 1, 1),
        ir.IF(1.0, v_reset, v_init),
        ir.AvgPool2d(2, 2, 0),
        ir.Flatten(),
        ir.Linear(r.normal(0.2, 0.4, (10, 64)) * gain),
        ir.LIF(tau, 1.0, v_reset, decay_input, v_init, decay=decay),
        ir.Linear(r.normal(0.3, 0.5, (5, 10)) * gain),
        ir.LIF(tau, 1.0, v_reset, decay_input, v_init, decay=decay),
    )
    exp = to_loihi(g, 16, reset="exact", model="cuba")
    assert exp.format == ("netx" if v_init == v_reset else "procgraph")
    x = (r.random((3, 2, 8, 8)) < 0.4).astype(np.float32)
    ours = export_parity(exp, exp.graph.encode(x), tmp_path)
    assert ours.spikes["n5"].any() and ours.spikes["n7"].any()


def test_soft_reset_lif_is_refused_or_mapped_by_name():
    g = chain((4,), ir.Linear(np.ones((3, 4))), ir.LIF(2.0, 1.0, None, False))
    with pytest.raises(PassError, match=r"n1: soft reset"):
        to_loihi(g, 8, reset="exact", model="cuba")
    assert to_loihi(g, 8, reset="hard", model="cuba").net.neurons["n1"].model == "cuba"


RUNNER = r"""
import os, sys
sys.path.insert(0, os.getcwd())
sys.modules["sjconvert"] = None   # any import of sjconvert or torch now fails
sys.modules["torch"] = None
import numpy as np
import procgraph_loader as lpg
graph, arrays = lpg.load("net.lpg.npz")
x = np.load("x.npz")["x"]
out = {}
for k in range(x.shape[1]):
    spikes, _ = lpg.run(graph, arrays, x[:, k])
    out.update({f"{k}/{name}": s for name, s in spikes.items()})
np.savez("out.npz", **out)
"""


def test_artifact_runs_with_the_standalone_loader_alone(mnist1d, tmp_path):
    """Only ``procgraph_loader.py`` and the artifact, in ``python -I`` with sjconvert and
    torch blocked: a fresh network per sample gives our simulator's messages."""
    snn, test = mnist1d
    exp = to_loihi(snn, 8)
    exp.write(tmp_path / "net.lpg.npz")
    assert (tmp_path / LOADER.name).exists()
    x = exp.graph.schedule(exp.graph.encode(test["x"][:2]), 8)
    np.savez(tmp_path / "x.npz", x=x)
    (tmp_path / "runner.py").write_text(RUNNER)
    shutil.rmtree(tmp_path / "__pycache__", ignore_errors=True)
    proc = subprocess.run(
        [sys.executable, "-I", "runner.py"], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    ours = simulate(exp.graph, x)
    with np.load(tmp_path / "out.npz") as got:
        for k in range(2):
            for name, s in ours.spikes.items():
                np.testing.assert_array_equal(got[f"{k}/{name}"], s[:, k], err_msg=name)
    cli = subprocess.run(
        [sys.executable, "-I", LOADER.name, "net.lpg.npz"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert cli.returncode == 0 and "fc_readout: [10]" in cli.stdout, cli.stderr[-2000:]
