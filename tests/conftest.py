"""Shared fixtures: the bundled samples and small models built in the tests."""

from __future__ import annotations

import importlib.util
import sys
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest
import torch
from _pytest.mark.expression import Expression  # -m's own parser (no public API)
from torch import nn

from sjconvert.ir import nodes as ir

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
TESTS = Path(__file__).resolve().parent

# Test groups and the packages each needs. Every environment of the Makefile runs the groups
# its packages allow, chosen with -m (`make test` lists them). A group that -m selects but
# whose packages cannot be imported here fails the run at once; with no -m, the groups this
# environment cannot run are left out and named in the report header.
GROUPS: dict[str, tuple[str, ...]] = {
    "onnx": ("onnx", "onnxruntime"),
    "plot": ("matplotlib",),
    "cupy": ("cupy",),
    "interop": ("spikingjelly", "snntorch", "norse", "nirtorch", "torchvision"),
    "lava": ("lava",),
    "gpu": ("cupy",),  # and a CUDA device: the tests skip, saying so, without one
}
# Modules that import a group's packages at the top: every test in them gets the group's
# marker, and they are collected only where the group runs.
FILES: dict[str, tuple[str, ...]] = {
    "lava": ("lava/*",),
    "interop": (
        "exec/test_spikingjelly_parity.py",
        "exec/test_spikingjelly_idioms.py",
        "frontends/test_sj_converted.py",
        "test_snn_sample.py",
        "targets/test_lava_spikingjelly.py",
        "targets/test_nir_interop.py",
        "frontends/test_torchvision.py",
        "frontends/test_torchvision_modern.py",
    ),
    "onnx": ("targets/test_onnx*.py", "frontends/test_onnx_validation.py"),
}


def _missing(group: str) -> list[str]:
    return [p for p in GROUPS[group] if importlib.util.find_spec(p) is None]


def _selected(group: str, config: pytest.Config) -> bool | None:
    """Whether ``-m`` selects a test carrying only ``group``'s marker (None: no ``-m``)."""
    expr = config.getoption("markexpr")
    if not expr:
        return None
    return Expression.compile(expr).evaluate(lambda name, **kwargs: name == group)


def runs(group: str, config: pytest.Config) -> bool:
    """Whether this run collects ``group``: when ``-m`` selects it, or, with no ``-m``, when
    its packages can be imported here."""
    selected = _selected(group, config)
    return not _missing(group) if selected is None else selected


def pytest_configure(config: pytest.Config) -> None:
    """Fail at once when ``-m`` selects a group whose packages cannot be imported here."""
    for group in GROUPS:
        if _selected(group, config) and (missing := _missing(group)):
            raise pytest.UsageError(
                f"tests marked {group!r} are selected (-m) but {', '.join(missing)} cannot be "
                f"imported in {sys.executable}: run them in their environment (see `make "
                f"test`) or deselect them with -m 'not {group}'"
            )


def _group_of(path: Path) -> str | None:
    rel = path.relative_to(TESTS).as_posix() if path.is_relative_to(TESTS) else ""
    return next((g for g, globs in FILES.items() if any(fnmatch(rel, x) for x in globs)), None)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    group = _group_of(collection_path)
    return None if group is None or runs(group, config) else True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, dropped = [], []
    for item in items:
        group = _group_of(Path(str(item.path)))
        if group is not None:
            item.add_marker(group)
        marked = [g for g in GROUPS if item.get_closest_marker(g)]
        (kept if all(runs(g, config) for g in marked) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> str:
    left = [f"{g} (needs {', '.join(_missing(g))})" for g in GROUPS if not runs(g, config)]
    return "test groups left out here: " + ("; ".join(left) if left else "none")


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
        **modern_nodes(r),
    }


def modern_nodes(r: np.random.Generator) -> dict[str, ir.Node]:
    """One instance of each node class of the modern architectures (issue 22)."""
    return {
        "GELU": ir.GELU(tanh=True),
        "SiLU": ir.SiLU(),
        "Hardswish": ir.Hardswish(),
        "Hardsigmoid": ir.Hardsigmoid(),
        "Sigmoid": ir.Sigmoid(),
        "Tanh": ir.Tanh(),
        "LayerNorm": ir.LayerNorm(r.normal(size=(3, 4)), r.normal(size=(3, 4)), 1e-6),
        "L2Normalize": ir.L2Normalize(1e-6),
        "Mul": ir.Mul(),
        "MatMul": ir.MatMul(),
        "Constant": ir.Constant(r.normal(size=(2, 4))),
        "Roll": ir.Roll((-1, 2), (1, 2)),
        "Pad": ir.Pad((0, 0, 1, 2)),
        "WindowPartition": ir.WindowPartition((2, 3), channels_first=True),
        "WindowMerge": ir.WindowMerge((2, 2), (4, 6)),
        "PatchMerge": ir.PatchMerge(),
        "SplitHeads": ir.SplitHeads(2),
        "MergeHeads": ir.MergeHeads(2, 3),
        "RunningMean": ir.RunningMean(),
        "Compensate": ir.Compensate(),
        "Encode": ir.Encode(),
        "BipolarIF": ir.BipolarIF(np.array([1.0, 0.5, 2.0], np.float32), 0.25, max_spikes=8),
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
