"""Shared fixtures: the bundled samples and small models built in the tests."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from sjconvert.ir import nodes as ir

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"

# The suite runs in two environments (see the Makefile): Python 3.11 with torch 2.13 and
# SpikingJelly, and Python 3.10 with lava-dl. Each leaves out the other's modules at
# collection (they cannot import there) instead of skipping them.
collect_ignore_glob = []
if importlib.util.find_spec("lava") is None:
    collect_ignore_glob.append("lava/*")
if importlib.util.find_spec("spikingjelly") is None:
    collect_ignore_glob += ["exec/test_spikingjelly_parity.py", "frontends/test_sj_converted.py"]
if any(importlib.util.find_spec(p) is None for p in ("spikingjelly", "snntorch", "norse")):
    collect_ignore_glob.append("targets/test_nir_interop.py")
if importlib.util.find_spec("onnxruntime") is None:
    collect_ignore_glob.append("targets/test_onnx*.py")
_NEEDS = {
    "main": (
        "exec/test_spikingjelly_parity.py",
        "targets/test_nir_interop.py",
        "targets/test_onnx*.py",
    ),
    "lava": ("lava/*",),
}
_env = os.environ.get("SJCONVERT_TEST_ENV")  # set by the Makefile: a missing package fails
for _glob in _NEEDS.get(_env or "", ()):
    if _glob in collect_ignore_glob:
        raise RuntimeError(f"the {_env} test environment cannot import what {_glob} needs")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
    np.random.seed(0)


def load_sample(name: str) -> tuple[nn.Module, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(model, test arrays, calibration arrays) for 'digits' or 'mnist1d'."""
    from samples import load

    return load(name)


def example_nodes() -> dict[str, ir.Node]:
    """One instance of every IR node class (tests check the set is complete)."""
    r = np.random.default_rng(0)
    w2 = r.normal(size=(4, 3, 3, 3)).astype(np.float32)
    return {
        "Input": ir.Input((3, 8, 8)),
        "Linear": ir.Linear(r.normal(size=(5, 7)), r.normal(size=5)),
        "Conv1d": ir.Conv1d(r.normal(size=(4, 2, 3)), None, 2, 1, 1, 1),
        "Conv2d": ir.Conv2d(w2, r.normal(size=4), (1, 2), (1, 0), 1, 1),
        "BatchNorm": ir.BatchNorm(
            r.normal(size=4), r.uniform(0.5, 2, 4), r.normal(size=4), r.normal(size=4), 1e-3
        ),
        "ReLU": ir.ReLU(),
        "AvgPool1d": ir.AvgPool1d(2, 2, 0),
        "AvgPool2d": ir.AvgPool2d((2, 2), (2, 2), (1, 1), True, False),
        "MaxPool1d": ir.MaxPool1d(3, 1, 1, 2, True),
        "MaxPool2d": ir.MaxPool2d(2, 2, 0),
        "Flatten": ir.Flatten(1, -1),
        "Reshape": ir.Reshape((4, 2)),
        "Add": ir.Add(),
        "Concat": ir.Concat(1),
        "Scale": ir.Scale(r.uniform(0.5, 2, 4)),
        "Dropout": ir.Dropout(0.25),
        "Identity": ir.Identity(),
        "IF": ir.IF(np.array([1.0, 0.5, 2.0], np.float32), None, 0.25),
        "SignedIF": ir.SignedIF(np.array([1.0, 0.5, 2.0], np.float32), 0.5, max_spikes=3),
        "Accumulate": ir.Accumulate(),
        "Difference": ir.Difference(),
        "LIF": ir.LIF(2.5, 0.7, -0.2, False, -0.2, 0.4),
        "Softmax": ir.Softmax(1, True),
        "Readout": ir.Readout(),
        "CubaLIF": ir.CubaLIF(0.5, 0.25, np.array([1.0, 0.5], np.float32), None, 0.1),
        "LI": ir.LI(4.0, -0.5),
        "Threshold": ir.Threshold(np.array([0.0, 0.5, 1.0], np.float32)),
        "Delay": ir.Delay(2),
        "AdaptiveAvgPool1d": ir.AdaptiveAvgPool1d(3),
        "AdaptiveAvgPool2d": ir.AdaptiveAvgPool2d((7, 2)),
        "Transpose": ir.Transpose((2, 3, 1)),
        "Slice": ir.Slice(1, 1, 3),
    }


def chain(shape: tuple[int, ...], *layers: ir.Node):
    """``Input(shape) → layers[0] → layers[1] → …`` with the last layer as the output."""
    from sjconvert.ir.graph import Graph

    nodes: dict[str, ir.Node] = {"x": ir.Input(shape)}
    edges: dict[str, tuple[str, ...]] = {"x": ()}
    prev = "x"
    for i, node in enumerate(layers):
        nodes[f"n{i}"], edges[f"n{i}"] = node, (prev,)
        prev = f"n{i}"
    return Graph(nodes, edges, (prev,))
