"""``sjconvert to-lava``: writes NetX or a process graph with a quantisation report; clear
one-line errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import pytest
from typer.testing import CliRunner

from sjconvert.cli.main import app
from sjconvert.errors import EmitError
from sjconvert.targets.lava.running import launcher as verify

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
DIGITS = [str(SAMPLES / "digits_cnn.pt"), "--arch", "samples.models:DigitsCNN"]


def test_to_lava_writes_netx_and_reports_json(tmp_path):
    out = tmp_path / "digits.net"
    args = [*DIGITS, "--calib", str(SAMPLES / "digits_calib.npz"), "-o", str(out), "--T", "16"]
    res = CliRunner().invoke(app, ["to-lava", *args, "--neuron", "cuba", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert list(report["layers"]) == [
        "features_2",
        "features_5",
        "features_9",
        "classifier_2",
        "classifier_4_readout",
    ]
    assert all(f["error"]["weight"] < 0.02 for f in report["layers"].values())
    assert report["neuron"] == "cuba" and report["format"] == "netx"
    # the threshold factor is picked on the calibration data, in the middle of the best
    calib = report["alpha_calibration"]
    assert report["alpha"] in (0.5, 0.6, 0.7) and calib[str(report["alpha"])] == max(calib.values())
    assert calib["1.0"] < max(calib.values()) - 0.1  # the factor matters
    with h5py.File(out) as f:
        assert len(f["layer"]) == 7


def test_to_lava_runs_the_default_conversion_of_an_ann_on_graded_neurons(tmp_path):
    out = tmp_path / "digits.lpg.npz"
    args = [*DIGITS, "--calib", str(SAMPLES / "digits_calib.npz"), "-o", str(out), "-T", "4"]
    res = CliRunner().invoke(app, ["to-lava", *args, "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["neuron"] == "graded" and report["format"] == "procgraph"
    assert report["input_steps"] == 4 and report["run_steps"] == 4 + report["latency"]
    procs = report["processes"]
    assert procs["features_2"] == {**procs["features_2"], "process": "GradedIF", "ours": True}
    assert procs["classifier_4_readout"]["process"] == "Sigma"
    assert not procs["classifier_4_readout"]["ours"]
    for name in ("procgraph_loader.py", "procgraph_processes.py"):
        assert (tmp_path / name).exists()


TEST_1D = SAMPLES / "mnist1d_test.npz"
RESNET = [
    str(SAMPLES / "mnist1d_rescnn.pt"),
    "--arch",
    "samples.models:ResCNN1d",
    "--calib",
    str(SAMPLES / "mnist1d_calib.npz"),
]


def test_to_lava_writes_the_residual_net_as_a_process_graph(tmp_path):
    out = tmp_path / "res.lpg.npz"
    res = CliRunner().invoke(app, ["to-lava", *RESNET, "-o", str(out), "-T", "8"])
    assert res.exit_code == 0, res.output
    assert "procgraph, 6 populations (5 of our processes), 8 synapses" in res.output
    assert "8 input steps + latency 6 = 14 steps" in res.output
    assert out.exists() and (tmp_path / "procgraph_loader.py").exists()


def test_to_lava_errors_are_one_line(tmp_path):
    out = tmp_path / "res.net"
    args = ["-o", str(out), "--format", "netx", "--neuron", "sdnn"]
    res = CliRunner().invoke(app, ["to-lava", *RESNET, *args])
    assert res.exit_code == 5
    assert "NetX holds a chain of layers" in res.output and "block1_relu2" in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not out.exists()
    res = CliRunner().invoke(app, ["to-lava", *DIGITS, "-o", str(out), "--alpha", "2"])
    assert res.exit_code == 2 and "--alpha must be in (0, 1]" in res.output


def test_missing_lava_environment_says_how_to_create_it(monkeypatch, tmp_path):
    monkeypatch.setattr(verify, "REPO", tmp_path)
    monkeypatch.delenv(verify.ENV_VAR, raising=False)
    monkeypatch.setattr(verify.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EmitError, match=r"make \.venv-lava/\.built.*--lava-samples 0"):
        verify.lava_python()


def test_a_named_lava_interpreter_must_exist(monkeypatch, tmp_path):
    """SJCONVERT_LAVA_PYTHON naming nothing is an error, not replaced by another one."""
    monkeypatch.setenv(verify.ENV_VAR, str(tmp_path / "python3.10"))
    with pytest.raises(EmitError, match="no such interpreter"):
        verify.lava_python()


def _fake_lava(tmp_path: Path, run: str) -> Path:
    """An interpreter that passes the Lava import probe and then does ``run`` (shell)."""
    exe = tmp_path / "fake-python"
    exe.write_text(f'#!/bin/sh\nif [ "$1" = "-c" ]; then exit 0; fi\n{run}\n')
    exe.chmod(0o755)
    return exe


def _outputs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.suffix in (".npz", ".py", ".net"))


def test_no_lava_environment_is_found_before_any_work(monkeypatch, tmp_path):
    """An interpreter without Lava: one line naming --lava-samples 0, nothing written."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    no_lava = tmp_path / "python-without-lava"  # as a Python without Lava answers the probe
    no_lava.write_text(
        "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'lava'\" >&2\nexit 1\n"
    )
    no_lava.chmod(0o755)
    monkeypatch.setenv(verify.ENV_VAR, str(no_lava))
    args = [*RESNET, "-o", str(out_dir / "res.lpg.npz"), "--verify", str(TEST_1D)]
    res = CliRunner().invoke(app, ["to-lava", *args])
    assert res.exit_code == 5, res.output
    assert "cannot import Lava" in res.output and "--lava-samples 0" in res.output
    assert _outputs(out_dir) == []
    res = CliRunner().invoke(app, ["to-lava", *args, "--lava-samples", "0", "-T", "2"])
    assert res.exit_code == 0, res.output  # without Lava runs, no Lava needed
    assert _outputs(out_dir) == ["procgraph_loader.py", "procgraph_processes.py", "res.lpg.npz"]


def test_a_failed_verification_leaves_nothing(monkeypatch, tmp_path):
    monkeypatch.setenv(verify.ENV_VAR, str(_fake_lava(tmp_path, "echo boom >&2; exit 3")))
    out = tmp_path / "res.lpg.npz"
    args = [*RESNET, "-o", str(out), "--verify", str(TEST_1D), "-T", "2"]
    res = CliRunner().invoke(app, ["to-lava", *args])
    assert res.exit_code == 5 and "Lava run failed" in res.output and "boom" in res.output
    assert _outputs(tmp_path) == []


def test_a_failed_lava_group_stops_the_others_at_once(monkeypatch, tmp_path):
    """Groups of samples run side by side (one Lava run per CPU): the first to fail ends
    the check with its error, the runs still going are killed, no run starts after it,
    and nothing is left."""
    first, pids = tmp_path / "first", tmp_path / "pids"
    fails_first = f'if mkdir "{first}" 2>/dev/null; then sleep 2; echo boom >&2; exit 3; fi'
    fake = _fake_lava(tmp_path, f'{fails_first}\necho $$ >> "{pids}"\nexec sleep 300')
    monkeypatch.setenv(verify.ENV_VAR, str(fake))
    out = tmp_path / "res.lpg.npz"
    args = [*RESNET, "-o", str(out), "--verify", str(TEST_1D), "-T", "2"]
    start = time.monotonic()
    res = CliRunner().invoke(app, ["to-lava", *args, "--lava-samples", "20"])
    assert res.exit_code == 5 and "Lava run failed" in res.output and "boom" in res.output
    assert time.monotonic() - start < 200  # not the 300 s of the run that waits
    others = pids.read_text().split() if pids.exists() else []  # none on one CPU
    for pid in others:
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid), 0)
    assert _outputs(tmp_path) == []


def test_ctrl_c_during_verification_leaves_nothing_and_no_traceback(tmp_path):
    """SIGINT while Lava runs: exit 130, one line, the Lava run killed, no file left."""
    marker = tmp_path / "lava-started"
    fake = _fake_lava(tmp_path, f'echo $$ > "{marker}"; exec sleep 120')
    out = tmp_path / "res.lpg.npz"
    env = {**os.environ, verify.ENV_VAR: str(fake), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "sjconvert", "to-lava", *RESNET, "-o", str(out)]
    cmd += ["--verify", str(TEST_1D), "-T", "2"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.exists(), proc.stderr.read() if proc.stderr else ""
    time.sleep(0.5)
    lava_pid = int(marker.read_text())
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines() == ["interrupted"]
    assert _outputs(tmp_path) == []
    with pytest.raises(ProcessLookupError):  # the Lava run was killed with us
        os.kill(lava_pid, 0)
