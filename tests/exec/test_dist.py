"""Sharded runs on torch.distributed (gloo, two processes on this machine): the same results
as one process, and a clear error — never a hang — when a worker dies or the ranks are given
different data."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sjconvert.exec import dist
from sjconvert.frontends.loading import DataSource
from tests.conftest import ROOT, SAMPLES

DIGITS = ["ann2snn", "samples/digits_cnn.pt", "--arch", "samples.models:DigitsCNN"]
DIGITS += ["--calib", "samples/digits_calib.npz"]
PLAIN_DIGITS = [*DIGITS, "-T", "0"]  # the plain conversion (no layer-wise calibration)
TIMEOUT = 240  # seconds a whole two-process run may take on a loaded 2-core machine


def test_batches_are_dealt_out_by_number() -> None:
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    ds = DataSource("toy", arrays=(x, None), batch_size=3)
    seen = {r: [(b.index, b.offset) for b in ds.batches(dist.Shard(r, 2))] for r in (0, 1)}
    assert seen == {0: [(0, 0), (2, 6)], 1: [(1, 3), (3, 9)]}
    assert [b.index for b in ds] == [0, 1, 2, 3]  # one process: every batch
    assert ds.first().index == 0


def test_a_function_that_takes_its_shard_is_handed_rank_and_world_size() -> None:
    calls = []

    def shard_aware(rank: int, world_size: int):
        calls.append((rank, world_size))
        yield np.ones((2, 1), np.float32)

    ds = DataSource("fn", fn=shard_aware)
    assert len(list(ds.batches(dist.Shard(1, 3)))) == 1 and calls == [(1, 3)]


def test_single_process_reductions_are_identities() -> None:
    t = torch.tensor([1.0, 2.0], dtype=torch.float64)
    assert torch.equal(dist.all_sum(t), t) and torch.equal(dist.all_max(t), t)
    assert dist.ordered_sum({2: 1.5, 0: 0.25}) == 1.75
    dist.agree("data", ("same",))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(args: list[str], env_extra: dict[str, str] | None = None) -> list[subprocess.Popen]:
    """Two CLI processes joined into one gloo group, the way torchrun sets them up."""
    port = str(_free_port())
    procs = []
    for rank in (0, 1):
        env = {
            **os.environ,
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            "SJCONVERT_DIST_TIMEOUT": "60",
            "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
            **(env_extra or {}),
        }
        cmd = [sys.executable, "-m", "sjconvert", *args]
        procs.append(
            subprocess.Popen(
                cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    return procs


def _wait(procs: list[subprocess.Popen]) -> list[tuple[int, str, str]]:
    out = []
    for p in procs:
        try:
            stdout, stderr = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("a sharded run hung")
        out.append((p.returncode, stdout, stderr))
    return out


def _single(args: list[str]) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    env.pop("WORLD_SIZE", None)
    res = subprocess.run(
        [sys.executable, "-m", "sjconvert", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    return res.stdout


@pytest.fixture(scope="module")
def digits_snn(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist") / "digits.sjir"
    _single([*PLAIN_DIGITS, "-o", str(out), "--json"])
    return out


def test_sharded_simulate_equals_one_process(digits_snn) -> None:
    args = [
        "simulate",
        str(digits_snn),
        "--data",
        "samples/digits_test.npz",
        "-T",
        "2,8",
        "--batch-size",
        "64",
        "--json",
    ]
    want = json.loads(_single(args))
    (code0, out0, err0), (code1, out1, err1) = _wait(_launch(args))
    assert code0 == 0 and code1 == 0, err0 + err1
    got = json.loads(out0)
    assert out1.strip() == ""  # rank 1 prints nothing
    for key in ("samples", "ann", "snn", "spikes_per_sample", "spikes_per_sample_per_layer"):
        assert got[key] == want[key], key


def test_sharded_parity_equals_one_process(digits_snn) -> None:
    args = ["parity", str(digits_snn), "--data", "samples/digits_test.npz", "-T", "4"]
    args += ["--backends", "torch,numpy,nir", "--batch-size", "64", "--json"]
    want = json.loads(_single(args))
    (code0, out0, err0), (code1, out1, err1) = _wait(_launch(args))
    assert code0 == 0 and code1 == 0, err0 + err1
    got = json.loads(out0)
    assert out1.strip() == ""
    assert got["samples"] == want["samples"] == 360
    strip = ("seconds", "prepare_seconds")
    rows = [
        [{k: v for k, v in r.items() if k not in strip} for r in d["rows"]] for d in (got, want)
    ]
    assert rows[0] == rows[1]


def test_sharded_conversion_writes_the_same_network(tmp_path) -> None:
    out = tmp_path / "sharded.sjir"
    args = [*PLAIN_DIGITS, "--batch-size", "64", "-o", str(out), "--json"]
    results = _wait(_launch(args))
    assert all(code == 0 for code, _, _ in results), results
    single = tmp_path / "single.sjir"
    _single([*args[:-3], "-o", str(single), "--json"])
    from sjconvert.ir import load

    assert load(out).fingerprint() == load(single).fingerprint()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sharded.sjir", "single.sjir"]


def test_sharded_layer_calibration_matches_one_process(tmp_path) -> None:
    """The default conversion: histograms sharded, the layer-wise calibration on the first
    128 samples gathered by every rank; the same network as one process."""
    from sjconvert.ir import load

    out, single = tmp_path / "sharded.sjir", tmp_path / "single.sjir"
    args = [*DIGITS, "--refine-samples", "128"]
    args += ["--batch-size", "32", "--json", "-o"]
    results = _wait(_launch([*args, str(out)]))
    assert all(code == 0 for code, _, _ in results), results
    _single([*args, str(single)])
    a, b = load(out), load(single)
    assert a.meta["calibration"] == b.meta["calibration"]
    for name, node in b:
        for field in ("threshold", "v_init"):
            want = getattr(node, field, None)
            if want is not None:
                np.testing.assert_array_equal(getattr(a.nodes[name], field), want, name)
    sim = ["simulate", "--data", "samples/digits_test.npz", "-T", "1,4,16", "--json"]
    assert (
        json.loads(_single([sim[0], str(out), *sim[1:]]))["snn"]
        == json.loads(_single([sim[0], str(single), *sim[1:]]))["snn"]
    )


def test_a_worker_that_dies_gives_one_clear_error(digits_snn, tmp_path) -> None:
    dying = tmp_path / "dying.py"
    dying.write_text(
        "import os\nimport numpy as np\n\n"
        "def data():\n"
        f"    d = np.load({str(SAMPLES / 'digits_test.npz')!r})\n"
        "    for i in range(0, 360, 60):\n"
        "        if i == 120 and os.environ['RANK'] == '1':\n"
        "            os._exit(9)\n"
        "        yield d['x'][i : i + 60], d['y'][i : i + 60]\n"
    )
    args = ["simulate", str(digits_snn), "--data", "dying:data", "-T", "4"]
    procs = _launch(args, {"PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])})
    (code0, _, err0), (code1, _, _) = _wait(procs)
    assert code1 == 9
    assert code0 == 6, err0
    lines = [ln for ln in err0.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "another process died" in lines[0] and "Traceback" not in err0


def test_ranks_given_different_data_refuse_in_one_line(digits_snn, tmp_path) -> None:
    other = tmp_path / "other.npz"
    d = np.load(SAMPLES / "digits_test.npz")
    np.savez(other, x=d["x"][:100], y=d["y"][:100])
    port = str(_free_port())
    procs = []
    for rank, data in ((0, str(SAMPLES / "digits_test.npz")), (1, str(other))):
        env = {
            **os.environ,
            "RANK": str(rank),
            "WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            "SJCONVERT_DIST_TIMEOUT": "60",
            "PYTHONPATH": str(ROOT),
        }
        cmd = [sys.executable, "-m", "sjconvert", "simulate", str(digits_snn), "--data", data]
        procs.append(
            subprocess.Popen(
                cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    for code, _, stderr in _wait(procs):
        assert code == 2 and "different data" in stderr and "Traceback" not in stderr
