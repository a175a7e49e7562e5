"""End-to-end tests of the ``sjconvert`` command line.

Happy paths run the bundled digits CNN through ``ann2snn``, ``simulate``, ``inspect`` and
``capture``. Bad-input tests hold every failure to the product rule: a non-zero exit code
that is stable per kind of error, exactly one non-empty line of output naming the problem
and the node or file, no traceback, and no output (or temporary) file left behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import traceback
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner, Result

from sjconvert.cli.main import app
from sjconvert.errors import (
    CaptureError,
    EmitError,
    InputError,
    PassError,
    SjconvertError,
    UnsupportedOpError,
)
from sjconvert.ir import load

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
MODEL = SAMPLES / "digits_cnn.pt"
CALIB = SAMPLES / "digits_calib.npz"
TEST = SAMPLES / "digits_test.npz"
ARCH = "samples.models:DigitsCNN"
USER_MODULE = "sjcli_user_models"

# Models (and one data source) that the CLI must refuse cleanly. They live in a module
# written to a temporary folder so that --arch and unpickling can import them by name.
USER_MODELS_SOURCE = '''
"""Models written by tests/cli/test_cli.py for the CLI's bad-input tests."""

import torch
from torch import nn


class DataDependent(nn.Module):
    """Branches on the data, so torch.fx cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.flatten(x)
        if x.sum() > 0:
            x = x * 2
        return self.fc(x)


class TwoUnsupported(nn.Module):
    """Two activations without an IR mapping: ELU at 'squash', Softplus at 'smooth'."""

    def __init__(self) -> None:
        super().__init__()
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(64, 32)
        self.squash = nn.ELU()
        self.fc2 = nn.Linear(32, 10)
        self.smooth = nn.Softplus()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.smooth(self.fc2(self.squash(self.fc1(self.flatten(x)))))


class WithMaxPool(nn.Module):
    """A ReLU CNN with max pooling at 'downsample'."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.downsample = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.downsample(self.relu(self.conv(x)))))


def empty_calib() -> list:
    """A data source that yields no batches."""
    return []
'''


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _at_repo_root() -> Iterator[None]:
    """Run every command from the repository root, so ``samples.*`` specs import."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        yield


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    """A Typer test runner (stdout and stderr are captured separately and mixed)."""
    return CliRunner()


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The digits CNN converted once with default settings, shared by the module."""
    out = tmp_path_factory.mktemp("converted") / "digits.sjir"
    result = CliRunner().invoke(
        app, ["ann2snn", str(MODEL), "--arch", ARCH, "--calib", str(CALIB), "-o", str(out)]
    )
    assert result.exit_code == 0, _describe(result)
    return out


@pytest.fixture(scope="module")
def user_models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """Write the user-model module onto ``sys.path`` and save a state dict of each model.

    Yields ``{class name: state dict file}``.
    """
    folder = tmp_path_factory.mktemp("user_models")
    (folder / f"{USER_MODULE}.py").write_text(textwrap.dedent(USER_MODELS_SOURCE))
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(folder))
        module = __import__(USER_MODULE)
        files = {}
        for name in ("DataDependent", "TwoUnsupported", "WithMaxPool"):
            files[name] = folder / f"{name}.pt"
            torch.save(getattr(module, name)().state_dict(), files[name])
        yield files
    sys.modules.pop(USER_MODULE, None)


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """An empty folder for a command's output; failing commands must leave it empty."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


# -- helpers ------------------------------------------------------------------------------


def _describe(result: Result) -> str:
    """Everything useful about a CLI run, for assertion messages."""
    text = f"exit code {result.exit_code}\n--- output ---\n{result.output}"
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        text += "\n--- exception ---\n" + "".join(traceback.format_exception(*result.exc_info))
    return text


def invoke(runner: CliRunner, *args: str | Path) -> Result:
    """Run ``sjconvert ARGS`` in-process."""
    return runner.invoke(app, [str(a) for a in args])


def ann2snn(
    runner: CliRunner, model: str | Path, out: Path, *extra: str | Path, calib: str | Path = CALIB
) -> Result:
    """Run ``sjconvert ann2snn MODEL --calib CALIB -o OUT EXTRA...``."""
    return invoke(runner, "ann2snn", model, "--calib", calib, "-o", out, *extra)


def assert_ok(result: Result) -> None:
    """The command succeeded."""
    assert result.exit_code == 0, _describe(result)
    assert result.exception is None, _describe(result)


def assert_clean_failure(
    result: Result,
    out_dir: Path,
    names: Sequence[str] = (),
    code: int | None = None,
) -> str:
    """Check the product rule for bad input and return the one error line.

    Non-zero exit (``code`` if given), no escaped exception, no traceback, exactly one
    non-empty line of output, on stderr, naming each of ``names``, and ``out_dir`` empty
    (no output file, no leftover temporary file).
    """
    info = _describe(result)
    assert result.exit_code != 0, info
    assert result.exception is None or isinstance(result.exception, SystemExit), info
    assert "Traceback" not in result.output, info
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, info
    line = lines[0]
    assert line in result.stderr, info
    assert "error" in line.lower(), info
    for name in names:
        assert name in line, f"{name!r} not named in the error line\n{info}"
    if code is not None:
        assert result.exit_code == code, info
    assert sorted(p.name for p in out_dir.iterdir()) == [], info
    return line


def save_x(path: Path, x: np.ndarray) -> Path:
    """Save an ``.npz`` data set holding only ``x``."""
    np.savez(path, x=x)
    return path


def ops(path: Path, which: str = "graph") -> list[str]:
    """The node ops of a graph in an IR file."""
    return [node.op for _, node in load(path, which)]


def digits_state() -> dict[str, torch.Tensor]:
    """The bundled digits CNN's state dict."""
    return torch.load(MODEL, map_location="cpu", weights_only=True)


def trained_digits() -> torch.nn.Module:
    """The bundled digits CNN with its trained weights."""
    from samples.models import DigitsCNN

    model = DigitsCNN()
    model.load_state_dict(digits_state())
    return model.eval()


# -- happy paths --------------------------------------------------------------------------


def test_ann2snn_writes_a_spiking_network(converted: Path) -> None:
    """The converted file holds signed IF neurons (the default) and a Readout, and the source
    ANN beside them."""
    graph_ops = ops(converted)
    assert "SignedIF" in graph_ops and "Readout" in graph_ops
    assert "ReLU" not in graph_ops
    assert "ReLU" in ops(converted, "source")


def test_ann2snn_json_has_a_lambda_per_layer(runner: CliRunner, out_dir: Path) -> None:
    """--json prints only JSON, with one positive λ per neuron layer of the written graph."""
    out = out_dir / "digits.sjir"
    result = ann2snn(runner, MODEL, out, "--arch", ARCH, "--json", "--granularity", "channel")
    assert_ok(result)
    summary = json.loads(result.stdout)
    assert summary["calibration_samples"] == 512
    assert summary["output"] == str(out)
    neurons = {name for name, node in load(out) if node.op == "SignedIF"}
    assert set(summary["lambda"]) == neurons
    assert len(neurons) == 4
    values = [v if isinstance(v, list) else [v] for v in summary["lambda"].values()]
    assert all(x > 0 for v in values for x in v)
    assert any(len(v) > 1 for v in values)  # channel-wise as asked


def _lambdas(runner: CliRunner, out_dir: Path, mode: str) -> dict[str, float]:
    out = out_dir / f"mode-{mode.replace('%', 'pct')}.sjir"
    # --T 0: the plain statistic, without the threshold search for a target T
    result = ann2snn(runner, MODEL, out, "--arch", ARCH, "--mode", mode, "--json", "--T", "0")
    assert_ok(result)
    assert "SignedIF" in ops(out)
    return json.loads(result.stdout)["lambda"]


def test_ann2snn_modes(runner: CliRunner, out_dir: Path) -> None:
    """max, a percentile and a scale all convert, and their λ relate as the modes say."""
    lam_max = _lambdas(runner, out_dir, "max")
    lam_pct = _lambdas(runner, out_dir, "99.99%")
    lam_scale = _lambdas(runner, out_dir, "0.8")
    assert set(lam_max) == set(lam_pct) == set(lam_scale)
    for layer, top in lam_max.items():
        assert lam_scale[layer] == pytest.approx(0.8 * top, rel=1e-6)
        assert 0 < lam_pct[layer] <= top * (1 + 1e-6)


def test_ann2snn_function_data_source(
    runner: CliRunner, out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--calib package.module:function streams the batches the function returns."""
    monkeypatch.chdir(ROOT)
    out = out_dir / "digits.sjir"
    result = ann2snn(
        runner, MODEL, out, "--arch", ARCH, "--json", calib="samples.data:digits_calib"
    )
    assert_ok(result)
    assert json.loads(result.stdout)["calibration_samples"] == 512
    assert "SignedIF" in ops(out)


def test_ann2snn_pickled_module_with_trust(
    runner: CliRunner, tmp_path: Path, out_dir: Path
) -> None:
    """A whole pickled nn.Module converts when the user passes --trust."""
    pickled = tmp_path / "whole.pt"
    torch.save(trained_digits(), pickled)
    out = out_dir / "digits.sjir"
    assert_ok(ann2snn(runner, pickled, out, "--trust"))
    assert "SignedIF" in ops(out) and "Readout" in ops(out)


def test_ann2snn_accepts_an_ir_file(runner: CliRunner, converted: Path, out_dir: Path) -> None:
    """An IR file written by ann2snn converts again from the source ANN stored in it."""
    out = out_dir / "again.sjir"
    assert_ok(ann2snn(runner, converted, out, "--mode", "max"))
    assert "SignedIF" in ops(out)


def test_simulate_json(runner: CliRunner, converted: Path) -> None:
    """simulate --json reports the SNN's accuracy per T and the ANN's accuracy."""
    result = invoke(runner, "simulate", converted, "--data", TEST, "-T", "4,8,16", "--json")
    assert_ok(result)
    res = json.loads(result.stdout)
    assert res["samples"] == 360
    assert res["metric"] == "accuracy"
    assert set(res["snn"]) == {"4", "8", "16"}
    assert res["snn"]["16"] >= 0.95
    assert res["ann"] >= 0.97
    assert res["snn"]["4"] >= res["ann"] - 0.03  # the default conversion targets low T


def test_inspect_table(runner: CliRunner, converted: Path) -> None:
    """inspect prints the SNN as a table."""
    result = invoke(runner, "inspect", converted)
    assert_ok(result)
    assert "SignedIF" in result.stdout and "Readout" in result.stdout


def test_inspect_json(runner: CliRunner, converted: Path) -> None:
    """inspect --json lists every node with its op, and the graph outputs."""
    result = invoke(runner, "inspect", converted, "--json")
    assert_ok(result)
    graph = json.loads(result.stdout)
    node_ops = [row["op"] for row in graph["nodes"]]
    assert node_ops == ops(converted)
    assert {"SignedIF", "Readout", "Input"} <= set(node_ops)
    names = {row["node"] for row in graph["nodes"]}
    assert graph["outputs"] and set(graph["outputs"]) <= names


def test_inspect_source(runner: CliRunner, converted: Path) -> None:
    """inspect --source shows the ANN the SNN was converted from."""
    result = invoke(runner, "inspect", converted, "--source")
    assert_ok(result)
    assert "ReLU" in result.stdout and "BatchNorm" in result.stdout
    assert "Readout" not in result.stdout


def test_capture(runner: CliRunner, out_dir: Path) -> None:
    """capture traces the ANN into an IR file without converting it."""
    out = out_dir / "captured.sjir"
    result = invoke(runner, "capture", MODEL, "--arch", ARCH, "--data", CALIB, "-o", out)
    assert_ok(result)
    captured = ops(out)
    assert {"Conv2d", "BatchNorm", "ReLU", "Linear"} <= set(captured)
    assert "IF" not in captured


def test_maxpool_avg_converts(
    runner: CliRunner, user_models: dict[str, Path], out_dir: Path
) -> None:
    """--maxpool avg replaces max pooling by average pooling and converts."""
    out = out_dir / "pool.sjir"
    model = user_models["WithMaxPool"]
    assert_ok(
        ann2snn(runner, model, out, "--arch", f"{USER_MODULE}:WithMaxPool", "--maxpool", "avg")
    )
    assert "AvgPool2d" in ops(out) and "MaxPool2d" not in ops(out)


# -- bad input: models --------------------------------------------------------------------


def test_missing_model_file(runner: CliRunner, tmp_path: Path, out_dir: Path) -> None:
    """A model path that does not exist."""
    missing = tmp_path / "no_such_model.pt"
    result = ann2snn(runner, missing, out_dir / "o.sjir", "--arch", ARCH)
    assert_clean_failure(result, out_dir, [missing.name], code=InputError.exit_code)


@pytest.mark.parametrize("with_arch", [False, True], ids=["no-arch", "arch"])
@pytest.mark.parametrize(
    "text",
    ["this is not a torch file\n", "hello\n", "not a model\n", "x,y\n1,2\n"],
    ids=["sentence", "hello", "not-a-model", "csv"],
)
def test_text_file_as_model(
    runner: CliRunner, tmp_path: Path, out_dir: Path, text: str, with_arch: bool
) -> None:
    """A text file given as the model is 'not a torch file', whatever its first bytes."""
    model = tmp_path / "notes.pt"
    model.write_text(text)
    extra = ["--arch", ARCH] if with_arch else []
    result = ann2snn(runner, model, out_dir / "o.sjir", *extra)
    line = assert_clean_failure(result, out_dir, [model.name], code=InputError.exit_code)
    assert "not a torch file" in line


def test_pickled_module_without_trust(runner: CliRunner, tmp_path: Path, out_dir: Path) -> None:
    """A whole pickled nn.Module is refused without --trust, and the message says so."""
    pickled = tmp_path / "whole.pt"
    torch.save(trained_digits(), pickled)
    result = ann2snn(runner, pickled, out_dir / "o.sjir")
    assert_clean_failure(result, out_dir, [pickled.name, "--trust"], code=InputError.exit_code)


def test_pickled_module_with_arch_without_trust(
    runner: CliRunner, tmp_path: Path, out_dir: Path
) -> None:
    """A whole pickled nn.Module given with --arch (a state dict was expected) is refused
    cleanly too, pointing at --trust."""
    pickled = tmp_path / "whole.pt"
    torch.save(trained_digits(), pickled)
    result = ann2snn(runner, pickled, out_dir / "o.sjir", "--arch", ARCH)
    assert_clean_failure(result, out_dir, [pickled.name, "--trust"], code=InputError.exit_code)


def test_state_dict_without_arch(runner: CliRunner, out_dir: Path) -> None:
    """A state dict needs --arch."""
    result = ann2snn(runner, MODEL, out_dir / "o.sjir")
    assert_clean_failure(result, out_dir, [MODEL.name, "--arch"], code=InputError.exit_code)


@pytest.mark.parametrize(
    ("arch", "named"),
    [
        ("no_such_package_xyz.models:Net", "no_such_package_xyz"),
        ("samples.models:NoSuchNet", "NoSuchNet"),
        ("samples.models", "samples.models"),
    ],
    ids=["module-missing", "class-missing", "no-colon"],
)
def test_wrong_arch(runner: CliRunner, out_dir: Path, arch: str, named: str) -> None:
    """An --arch whose module or class cannot be found, or that is not module:Class."""
    result = ann2snn(runner, MODEL, out_dir / "o.sjir", "--arch", arch)
    assert_clean_failure(result, out_dir, [named], code=InputError.exit_code)


def test_state_dict_does_not_fit_arch(runner: CliRunner, out_dir: Path) -> None:
    """The digits state dict loaded into another architecture."""
    result = ann2snn(runner, MODEL, out_dir / "o.sjir", "--arch", "samples.models:ResCNN1d")
    assert_clean_failure(result, out_dir, [MODEL.name, "ResCNN1d"], code=InputError.exit_code)


def test_untraceable_model(runner: CliRunner, user_models: dict[str, Path], out_dir: Path) -> None:
    """Data-dependent control flow in forward cannot be traced."""
    result = ann2snn(
        runner,
        user_models["DataDependent"],
        out_dir / "o.sjir",
        "--arch",
        f"{USER_MODULE}:DataDependent",
    )
    line = assert_clean_failure(result, out_dir, ["DataDependent"], code=CaptureError.exit_code)
    assert "control flow" in line


def test_two_unsupported_layers_named_in_one_line(
    runner: CliRunner, user_models: dict[str, Path], out_dir: Path
) -> None:
    """Every unsupported node is listed, in the one error line."""
    result = ann2snn(
        runner,
        user_models["TwoUnsupported"],
        out_dir / "o.sjir",
        "--arch",
        f"{USER_MODULE}:TwoUnsupported",
    )
    assert_clean_failure(
        result, out_dir, ["squash", "smooth", "ELU", "Softplus"], code=UnsupportedOpError.exit_code
    )


def test_maxpool_pooled_before_the_neuron_by_default_or_refused_on_request(
    runner: CliRunner, user_models: dict[str, Path], out_dir: Path, tmp_path: Path
) -> None:
    """Max pooling converts by default (pooling the current); --maxpool error names the node
    and suggests the options."""
    args = (user_models["WithMaxPool"], "--arch", f"{USER_MODULE}:WithMaxPool")
    ok = ann2snn(runner, args[0], tmp_path / "pre.sjir", *args[1:])
    assert_ok(ok)
    assert "MaxPool2d" in ops(tmp_path / "pre.sjir")
    result = ann2snn(runner, args[0], out_dir / "o.sjir", *args[1:], "--maxpool", "error")
    assert_clean_failure(result, out_dir, ["downsample", "--maxpool"])


def test_nan_in_model_weights(runner: CliRunner, tmp_path: Path, out_dir: Path) -> None:
    """A NaN weight is reported at its node as bad weights, not as an unsupported layer."""
    state = digits_state()
    state["features.0.weight"][0, 0, 0, 0] = float("nan")
    model = tmp_path / "nan_weights.pt"
    torch.save(state, model)
    result = ann2snn(runner, model, out_dir / "o.sjir", "--arch", ARCH)
    line = assert_clean_failure(result, out_dir, ["NaN"])
    assert "features_0" in line or "features.0" in line, line
    # Conv2d is supported: calling it an unsupported node misleads the user.
    assert "unsupported" not in line.lower(), line


# -- bad input: calibration data and options ----------------------------------------------


@pytest.mark.parametrize(
    ("shape", "node", "reason"),
    [((4, 3, 8, 8), "features_0", "channels"), ((4, 1, 12, 12), "classifier_1", "multiplied")],
    ids=["3-channels", "12x12"],
)
def test_calibration_data_of_wrong_shape(
    runner: CliRunner,
    tmp_path: Path,
    out_dir: Path,
    shape: tuple[int, ...],
    node: str,
    reason: str,
) -> None:
    """Calibration data the model cannot take: one line with the reason, the failing node
    or the data file, and no traceback (torch.fx's ShapeProp prints one by itself).

    ([N, 1, 10, 10] is not used: DigitsCNN takes it, 10 -> 5 -> 2 after two 2x2 pools.)
    """
    calib = save_x(tmp_path / "calib_wrong_shape.npz", np.full(shape, 0.5, np.float32))
    result = ann2snn(runner, MODEL, out_dir / "o.sjir", "--arch", ARCH, calib=calib)
    line = assert_clean_failure(result, out_dir)
    assert node in line or calib.name in line, line
    assert reason in line, line


def test_calibration_shape_checked_against_an_ir_model(
    runner: CliRunner, converted: Path, tmp_path: Path, out_dir: Path
) -> None:
    """Re-converting an IR file checks the data against the stored input shape."""
    calib = save_x(tmp_path / "calib_10x10.npz", np.full((4, 1, 10, 10), 0.5, np.float32))
    result = ann2snn(runner, converted, out_dir / "o.sjir", calib=calib)
    assert_clean_failure(result, out_dir, ["'x'", "10"], code=InputError.exit_code)


def test_nan_in_calibration_data(runner: CliRunner, tmp_path: Path, out_dir: Path) -> None:
    """NaN in the calibration data."""
    x = np.full((4, 1, 8, 8), 0.5, np.float32)
    x[2, 0, 3, 3] = np.nan
    calib = save_x(tmp_path / "calib_nan.npz", x)
    result = ann2snn(runner, MODEL, out_dir / "o.sjir", "--arch", ARCH, calib=calib)
    assert_clean_failure(result, out_dir, [calib.name, "NaN"], code=InputError.exit_code)


def test_empty_calibration_file(runner: CliRunner, tmp_path: Path, out_dir: Path) -> None:
    """An .npz whose x has no samples."""
    calib = save_x(tmp_path / "calib_empty.npz", np.zeros((0, 1, 8, 8), np.float32))
    result = ann2snn(runner, MODEL, out_dir / "o.sjir", "--arch", ARCH, calib=calib)
    line = assert_clean_failure(result, out_dir, [calib.name], code=InputError.exit_code)
    assert "empty" in line


def test_empty_calibration_function(
    runner: CliRunner, user_models: dict[str, Path], out_dir: Path
) -> None:
    """A data function that yields nothing: the message names the data source."""
    spec = f"{USER_MODULE}:empty_calib"
    result = ann2snn(runner, MODEL, out_dir / "o.sjir", "--arch", ARCH, calib=spec)
    line = assert_clean_failure(result, out_dir, [spec], code=InputError.exit_code)
    assert "empty" in line


def test_missing_calibration_file(runner: CliRunner, tmp_path: Path, out_dir: Path) -> None:
    """A calibration path that does not exist."""
    calib = tmp_path / "no_such_calib.npz"
    result = ann2snn(runner, MODEL, out_dir / "o.sjir", "--arch", ARCH, calib=calib)
    assert_clean_failure(result, out_dir, [calib.name], code=InputError.exit_code)


@pytest.mark.parametrize("mode", ["abc", "150%", "1.5", "0", "-5%", "nan%", "inf"])
def test_bad_mode(runner: CliRunner, out_dir: Path, mode: str) -> None:
    """A --mode that is neither max, a percentile in (0, 100] nor a scale in (0, 1]."""
    result = ann2snn(runner, MODEL, out_dir / "o.sjir", "--arch", ARCH, "--mode", mode)
    assert_clean_failure(result, out_dir, [mode], code=InputError.exit_code)


def test_failure_leaves_an_existing_output_untouched(runner: CliRunner, out_dir: Path) -> None:
    """A failing conversion neither replaces nor deletes a file already at the output."""
    out = out_dir / "keep.sjir"
    out.write_bytes(b"previous result")
    result = ann2snn(runner, MODEL, out, "--arch", ARCH, "--mode", "abc")
    assert result.exit_code == InputError.exit_code, _describe(result)
    assert out.read_bytes() == b"previous result"
    assert [p.name for p in out_dir.iterdir()] == ["keep.sjir"]


def test_output_folder_missing(runner: CliRunner, tmp_path: Path) -> None:
    """An output path in a folder that does not exist names the folder."""
    out = tmp_path / "no_such_folder" / "o.sjir"
    result = ann2snn(runner, MODEL, out, "--arch", ARCH)
    assert_clean_failure(result, tmp_path, ["no_such_folder"], code=InputError.exit_code)


# -- bad input: simulate and inspect ------------------------------------------------------


@pytest.mark.parametrize("command", ["simulate", "inspect"])
@pytest.mark.parametrize("not_ir", [MODEL, TEST], ids=["state-dict", "npz"])
def test_non_ir_file(runner: CliRunner, out_dir: Path, command: str, not_ir: Path) -> None:
    """simulate / inspect on a file that is not an IR file."""
    extra = ["--data", str(TEST)] if command == "simulate" else []
    result = invoke(runner, command, not_ir, *extra)
    line = assert_clean_failure(result, out_dir, [not_ir.name], code=InputError.exit_code)
    assert "IR file" in line


def test_simulate_missing_ir_file(runner: CliRunner, tmp_path: Path, out_dir: Path) -> None:
    """simulate on a path that does not exist."""
    missing = tmp_path / "no_such.sjir"
    result = invoke(runner, "simulate", missing, "--data", TEST)
    assert_clean_failure(result, out_dir, [missing.name], code=InputError.exit_code)


@pytest.mark.parametrize("steps", ["a,b", "4,x", "0,4", ","])
def test_simulate_bad_steps(runner: CliRunner, converted: Path, out_dir: Path, steps: str) -> None:
    """-T must be comma-separated positive integers."""
    result = invoke(runner, "simulate", converted, "--data", TEST, "-T", steps)
    line = assert_clean_failure(result, out_dir, code=InputError.exit_code)
    assert "-T" in line or "time steps" in line, line


def test_simulate_data_of_wrong_shape(
    runner: CliRunner, converted: Path, tmp_path: Path, out_dir: Path
) -> None:
    """Evaluation data that does not fit the IR's input node."""
    data = tmp_path / "test_wrong_shape.npz"
    np.savez(data, x=np.full((4, 3, 8, 8), 0.5, np.float32), y=np.zeros(4, np.int64))
    result = invoke(runner, "simulate", converted, "--data", data, "-T", "4")
    assert_clean_failure(result, out_dir, ["'x'", "[4, 3, 8, 8]"], code=InputError.exit_code)


# -- exit codes ---------------------------------------------------------------------------


def test_exit_codes_are_stable() -> None:
    """Each kind of error keeps its documented exit code (scripts depend on them)."""
    assert SjconvertError.exit_code == 1
    assert InputError.exit_code == 2
    assert CaptureError.exit_code == 3
    assert UnsupportedOpError.exit_code == 3
    assert PassError.exit_code == 4
    assert EmitError.exit_code == 5


# -- real processes -----------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    env["COLUMNS"] = "200"
    return env


def test_python_dash_m_help() -> None:
    """``python -m sjconvert --help`` lists the commands."""
    proc = subprocess.run(
        [sys.executable, "-m", "sjconvert", "--help"],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    for command in ("ann2snn", "simulate", "inspect", "capture"):
        assert command in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


def test_console_script(tmp_path: Path) -> None:
    """The installed ``sjconvert`` script runs, and a real failure is one line on stderr."""
    script = Path(sys.executable).parent / "sjconvert"
    if not script.exists():
        pytest.skip(f"console script not installed beside {sys.executable}")
    proc = subprocess.run(
        [str(script), "--help"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "ann2snn" in proc.stdout
    missing = tmp_path / "no_such.sjir"
    proc = subprocess.run(
        [str(script), "inspect", str(missing)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == InputError.exit_code, proc.stderr
    assert proc.stdout == ""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and missing.name in lines[0], proc.stderr
