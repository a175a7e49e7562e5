"""Usage errors read like every other error (one line, exit 2), ``--version`` has one source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sjconvert
from sjconvert.cli.main import app

ROOT = Path(__file__).resolve().parents[2]
SNN = "model.sjir"  # never read: each command stops at its options


@pytest.mark.parametrize(
    "args",
    [
        ["simulate"],
        ["nosuch"],
        ["simulate", SNN, "--data", "d.npz", "--bogus"],
        ["to-onnx", SNN, "-o", "m.onnx", "-T", "0"],
        ["to-lynxi", SNN, "-o", "dir", "-T", "0"],
        ["to-onnx", SNN, "-o", "m.onnx", "-T", "x"],
        ["simulate", SNN, "--data", "d.npz", "-T", "4,,8"],
        ["simulate", SNN, "--data", "d.npz", "-T", "0"],
        ["parity", SNN, "--data", "d.npz", "-T", "0"],
        ["to-nir", SNN, "-o", "n.nir", "-T", "0,4"],
        ["ann2snn", SNN, "--calib", "c.npz", "-o", "o.sjir", "-T", "many"],
    ],
)
def test_usage_errors_are_one_line_exit_2(args: list[str], tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, args)
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert res.exit_code == 2, res.output
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_usage_error_names_the_help_to_read() -> None:
    res = CliRunner().invoke(app, ["simulate", SNN, "--data", "d.npz", "--bogus"], prog_name="sj")
    assert res.exit_code == 2
    assert res.output.strip() == "error: No such option: --bogus (see sj simulate --help)"


def test_version_has_one_source() -> None:
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == f"sjconvert {sjconvert.__version__}"
    text = (ROOT / "pyproject.toml").read_text()  # (no tomllib on Python 3.10)
    project = text.split("[project]", 1)[1].split("\n[", 1)[0]
    assert not re.search(r"^version\s*=", project, re.M)
    assert re.search(r'^dynamic = \["version"\]', project, re.M)
    assert 'version = { attr = "sjconvert.__version__" }' in text


def test_no_invented_url_in_any_message() -> None:
    for path in (ROOT / "sjconvert").rglob("*.py"):
        assert "github.com/sjconvert" not in path.read_text(), path
