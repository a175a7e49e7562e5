"""The worked example of ``docs/architecture.md`` holds: its code blocks, applied as written to
a copy of the package, touch the production files the document counts and no other, and
the neuron they add runs everywhere (conformance suite, IR files, inspect, docs) with no
further change."""

from __future__ import annotations

import filecmp
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

SECTION = "## Worked example: adding a neuron touches two production files"
BLOCK = re.compile(r"```python\n# (sjconvert/[\w/]+\.py)\n(.*?)```", re.S)

CHECK = r"""
import json, sys, importlib.util
import numpy as np
from hypothesis import given, settings, HealthCheck, strategies as st
import sjconvert
from sjconvert.ir import nodes as ir, save, load
from sjconvert.ops import RATES, PROGRAMS
from sjconvert.ops.kernels import _rate_coded
from sjconvert.api.support import supported_ops_markdown
from sjconvert.cli.render import describe
from sjconvert.targets.nir import REGISTRY as NIR
from tests.conformance.cases import cases
from tests.conformance.test_conformance import assert_conform
from tests.targets.host_kernels import HAS_COMPILER

out = {"package": sjconvert.__file__}
cls = ir.NODE_TYPES["BurstIF"]
out["registered"] = [cls in PROGRAMS, RATES[cls].fn is _rate_coded, cls is ir.BurstIF]
names = ["numpy", "module", "lynxi"]
if importlib.util.find_spec("onnxruntime"):
    names += ["onnx-unrolled", "onnx-step"]
if HAS_COMPILER:
    names.append("cupy-host")
seen = []

@settings(max_examples=4, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(case=cases(cls))
def conform(case):
    assert_conform(case, names)
    seen.append(case)

conform()
out["executors"], out["cases"] = names, len(seen)
graph = seen[-1].graph
path = save(sys.argv[1], graph)
out["file"] = isinstance(load(path).nodes["node"], cls)
out["inspect"] = describe(graph.nodes["node"])[1]
out["nir"] = [p for p in NIR.problems(graph) if "BurstIF" in p]
out["docs"] = "BurstIF" in supported_ops_markdown()
print(json.dumps(out))
"""


def _blocks() -> list[tuple[str, str]]:
    doc = (ROOT / "docs" / "architecture.md").read_text()
    section = doc[doc.index(SECTION) :]
    return BLOCK.findall(section)


def _changed(a: Path, b: Path) -> list[str]:
    """Files under ``a`` and ``b`` that differ or exist on one side only."""
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    out = [str(Path(cmp.left).relative_to(a) / n) for n in cmp.diff_files + cmp.left_only]
    out += [str(Path(cmp.left).relative_to(a) / n) for n in cmp.right_only]
    for sub in cmp.subdirs.values():
        out += [str(Path(sub.left).relative_to(a) / n) for n in sub.diff_files]
        for deeper in sub.subdirs.values():
            out += [str(Path(deeper.left).relative_to(a) / n) for n in deeper.diff_files]
    return sorted(out)


def test_worked_example_adds_a_neuron_in_two_files(tmp_path) -> None:
    blocks = _blocks()
    assert [path for path, _ in blocks] == [
        "sjconvert/ir/nodes/neurons.py",
        "sjconvert/ops/neurons.py",
    ]
    copy = tmp_path / "sjconvert"
    shutil.copytree(ROOT / "sjconvert", copy, ignore=shutil.ignore_patterns("__pycache__"))
    for path, code in blocks:
        with open(tmp_path / path, "a") as f:
            f.write("\n\n" + code)
    assert _changed(ROOT / "sjconvert", copy) == ["ir/nodes/neurons.py", "ops/neurons.py"]
    env_path = f"{tmp_path}{':' if sys.platform != 'win32' else ';'}{ROOT}"
    res = subprocess.run(
        [sys.executable, "-c", CHECK, str(tmp_path / "net.sjir")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["package"].startswith(str(copy))
    assert out["registered"] == [True, True, True]
    assert out["cases"] == 4 and {"numpy", "module", "lynxi"} <= set(out["executors"]), out
    assert out["file"] and out["docs"] and out["nir"]
    assert out["inspect"].startswith("θ=") and "soft" in out["inspect"]
