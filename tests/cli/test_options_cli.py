"""``sjconvert ann2snn``'s conversion options come from their one declaration
(:class:`~sjconvert.passes.options.ConversionOptions`): flags, help text and default."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import typer
from typer.testing import CliRunner

from sjconvert.cli.main import app
from sjconvert.cli.options import cli_default, cli_flags
from sjconvert.passes.options import ConversionOptions

ROOT = Path(__file__).resolve().parents[2]


def _params() -> dict[str, object]:
    command = typer.main.get_command(app).commands["ann2snn"]  # type: ignore[attr-defined]
    return {p.name: p for p in command.params}


def test_every_conversion_option_is_an_ann2snn_option_as_declared() -> None:
    params = _params()
    for f in dataclasses.fields(ConversionOptions):
        p = params[f.name]
        flags = [*p.opts, *p.secondary_opts]  # type: ignore[attr-defined]
        assert flags == [s for spec in cli_flags(f) for s in spec.split("/")], f.name
        assert p.help == f.metadata["help"], f.name  # type: ignore[attr-defined]
        assert p.default == cli_default(f), f.name  # type: ignore[attr-defined]


def test_help_shows_every_default_and_no_stray_space() -> None:
    res = CliRunner().invoke(app, ["ann2snn", "--help"], env={"COLUMNS": "300"})
    assert res.exit_code == 0
    text = " ".join(res.output.split())
    assert "[default: (4 for signed neurons, 1 for if)]" in text
    assert " . " not in text and " .[" not in text  # "in one step ." came from a lost default


def test_json_reports_the_effective_options(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)
    out = tmp_path / "d.sjir"
    args = ["ann2snn", "samples/digits_cnn.pt", "--arch", "samples.models:DigitsCNN"]
    args += ["--calib", "samples/digits_calib.npz", "-o", str(out), "--json", "-T", "0"]
    res = CliRunner().invoke(app, [*args, "--neuron", "if", "--mode", "max"])
    assert res.exit_code == 0, res.output
    options = json.loads(res.stdout)["options"]
    assert options == ConversionOptions(T=None, neuron="if", mode="max").to_dict()
    assert options["burst"] == 1  # effective, never null


def test_an_invalid_option_is_one_line_before_any_work(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app, ["ann2snn", "missing.pt", "--calib", "x.npz", "-o", str(tmp_path / "o.sjir"),
              "--neuron", "if", "--burst", "2"],
    )  # fmt: skip
    assert res.exit_code == 2
    assert res.output.strip().splitlines() == [
        "error: bursts of 2 spikes need signed neurons (--neuron signed)"
    ]


def test_no_help_text_loses_its_words() -> None:
    """Rich reads ``[...]`` in a help text as markup and drops it ("in one step ." came from
    a lost ``[default: 4]``): every command's help reads whole."""
    group = typer.main.get_command(app)
    for name in group.commands:  # type: ignore[attr-defined]
        res = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "300"})
        assert res.exit_code == 0, name
        for line in res.output.splitlines():
            assert not re.search(r"[\w)] \.(\s|│|$)", line), (name, line)
