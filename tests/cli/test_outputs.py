"""No command loses a user's file: an output that is (or resolves to) an input is refused
before any work, a folder given as a file output is one clean line, an existing output is
replaced whole; and every way a run ends is a documented exit code."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sjconvert.cli import entry, exits
from sjconvert.cli.exits import EXIT_CODES
from sjconvert.cli.main import app, run
from sjconvert.ir import Graph, save
from sjconvert.ir import nodes as ir

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "samples" / "digits_cnn.pt"
ARCH = "samples.models:DigitsCNN"
runner = CliRunner()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A small hard-reset SNN (IR), its NIR export and a data set, in one folder."""
    r = np.random.default_rng(0)
    nodes = {
        "x": ir.Input((4,)),
        "l": ir.Linear(r.uniform(0, 1, (6, 4)), None),
        "n": ir.IF(1.0, 0.0, 0.0),
        "o": ir.Linear(r.normal(size=(3, 6)), None),
        "r": ir.Readout(),
    }
    edges = {"x": (), "l": ("x",), "n": ("l",), "o": ("n",), "r": ("o",)}
    snn = save(tmp_path / "m.sjir", Graph(nodes, edges, ("r",)))
    data = tmp_path / "d.npz"
    np.savez(data, x=r.uniform(0, 1, (8, 4)).astype(np.float32), y=np.arange(8) % 3)
    res = runner.invoke(app, ["to-nir", str(snn), "-o", str(tmp_path / "m.nir")])
    assert res.exit_code == 0, res.output
    return {"ir": snn, "nir": tmp_path / "m.nir", "data": data}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


COMMANDS: dict[str, Callable[[dict[str, Path], Path], tuple[list[str], str]]] = {
    "to-onnx": lambda f, o: (["to-onnx", str(f["ir"]), "-o", str(o)], "ir"),
    "to-nir": lambda f, o: (["to-nir", str(f["ir"]), "-o", str(o)], "ir"),
    "from-nir": lambda f, o: (["from-nir", str(f["nir"]), "-o", str(o)], "nir"),
    "to-lava": lambda f, o: (["to-lava", str(f["ir"]), "-o", str(o)], "ir"),
    "ann2snn --calib": lambda f, o: (
        ["ann2snn", str(MODEL), "--arch", ARCH, "--calib", str(f["data"]), "-o", str(o)],
        "data",
    ),
    "capture --data": lambda f, o: (
        ["capture", str(MODEL), "--arch", ARCH, "--data", str(f["data"]), "-o", str(o)],
        "data",
    ),
}
SPELLINGS: dict[str, Callable[[Path], Path]] = {
    "same": lambda p: p,
    "dot-dot": lambda p: p.parent / ".." / p.parent.name / "." / p.name,
    "symlink": lambda p: _link(p, os.symlink),
    "hard-link": lambda p: _link(p, os.link),
}


def _link(p: Path, make: Callable[[Path, Path], None]) -> Path:
    other = p.with_name(f"alias-{make.__name__}{p.suffix}")
    make(p, other)
    return other


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_an_output_that_is_an_input_is_refused(
    files: dict[str, Path], command: str, spelling: str
) -> None:
    args, which = COMMANDS[command](files, Path())
    target = SPELLINGS[spelling](files[which])
    before = _digest(files[which])
    args, _ = COMMANDS[command](files, target)
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "is the input" in lines[0], res.output
    assert _digest(files[which]) == before


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_folder_as_output_is_one_clean_line(
    files: dict[str, Path], tmp_path: Path, command: str
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    res = runner.invoke(app, COMMANDS[command](files, folder)[0])
    assert res.exit_code == 2, res.output
    assert res.output.strip().count("\n") == 0 and "is a folder" in res.output
    assert list(folder.iterdir()) == []


def test_to_lynxi_refuses_a_folder_holding_its_input_under_an_output_name(
    files: dict[str, Path], tmp_path: Path
) -> None:
    folder = tmp_path / "lynxi"
    folder.mkdir()
    model = folder / "model.sjir"
    model.write_bytes(files["ir"].read_bytes())
    res = runner.invoke(app, ["to-lynxi", str(model), "-o", str(folder)])
    assert res.exit_code == 2 and "is the input" in res.output, res.output
    res = runner.invoke(app, ["to-lynxi", str(files["ir"]), "-o", str(files["data"])])
    assert res.exit_code == 2 and "not a folder" in res.output, res.output


def test_an_existing_output_is_replaced_whole_with_umask_permissions(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "again.sjir"
    out.write_text("an older result")
    old = os.umask(0o077)
    try:
        res = runner.invoke(app, ["from-nir", str(files["nir"]), "-o", str(out)])
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if ".sjtmp-" in p.name]


def test_every_exit_code_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert (entry.INTERRUPTED, entry.TERMINATED) == (exits.INTERRUPTED, exits.TERMINATED)
    assert run(["--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for code, meaning in EXIT_CODES.items():
        assert f"{code} {meaning.split()[0]}" in text, code


@pytest.mark.parametrize(
    "args",
    [
        ["inspect"],
        ["nosuch"],
        ["inspect", "a", "b"],
        ["simulate", "x", "--data", "d", "-T"],
        ["ann2snn", "m", "--calib", "c", "-o", "o", "--T", "many"],
        ["--bogus"],
        [],
    ],
    ids=[
        "missing-arg",
        "unknown-command",
        "extra-arg",
        "missing-value",
        "bad-int",
        "unknown-option",
        "no-args",
    ],
)
def test_usage_errors_exit_2_never_1(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(args) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_running_out_of_memory_is_one_line_and_its_own_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A MemoryError (RAM, or a limit such as ``prlimit --as``) is not reported as a bug."""

    def body() -> None:
        raise MemoryError("Unable to allocate 7.59 MiB for an array")

    with pytest.raises(exits.typer.Exit) as stop:
        exits.run_body(body)
    assert stop.value.exit_code == exits.OUT_OF_MEMORY == 7
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: out of memory"), lines
    assert "bug" not in lines[0] and "Traceback" not in lines[0]
