"""The user of the first-hour walkthrough: their ``./mynet.py``, models and data, and
``sjconvert`` run as they run it (the environment's console script, in their folder, with
nothing of the repository importable but sjconvert)."""

from __future__ import annotations

import importlib.util
import os
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import torch

from tests.conftest import ROOT

MYNET = '''
"""The user's models: residual add, concatenation and max pooling; and a plain CNN."""

import torch
from torch import nn


class MyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU())
        self.branch = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.side = nn.Sequential(nn.Conv2d(8, 4, 1), nn.ReLU())
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(12 * 16, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem(x)
        r = s + self.branch(s)
        c = torch.cat([r, self.side(s)], dim=1)
        return self.head(self.pool(c))


class Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(128, 10),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
'''


def _train(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.nn.Module:
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(6):
        for i in range(0, len(x), 64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[i : i + 64]), y[i : i + 64]).backward()
            opt.step()
    return model.eval()


def save_data(home: Path, x: np.ndarray, y: np.ndarray) -> None:
    """The test set, saved every way a user saves data."""
    np.savez(home / "test.npz", x=x, y=y)
    np.savez(home / "named.npz", images=x, labels=y)
    np.savez(home / "three.npz", images=x, labels=y, ids=np.arange(len(y)))
    np.savez(home / "nhwc.npz", x=x.transpose(0, 2, 3, 1), y=y)
    np.save(home / "x.npy", x)
    np.savez(home / "u8.npz", x=(x * 255).round().astype(np.uint8), y=y)
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    torch.save(dataset, home / "dataset.pt")
    with open(home / "xy.pkl", "wb") as f:
        pickle.dump((x, y), f)


def make_home(home: Path) -> Path:
    """The user's folder, outside the repository: mynet.py, the trained models (whole and
    as a state dict) and the data; the user's model converted once (``m.sjir``)."""
    (home / "mynet.py").write_text(textwrap.dedent(MYNET))
    spec = importlib.util.spec_from_file_location("mynet", home / "mynet.py")
    assert spec is not None and spec.loader is not None
    mynet = importlib.util.module_from_spec(spec)
    sys.modules["mynet"] = mynet  # pickled as the user's ./mynet.py
    try:
        spec.loader.exec_module(mynet)
        with np.load(ROOT / "samples" / "digits_calib.npz") as f:
            calib_x, calib_y = f["x"], f["y"]
        xt, yt = torch.from_numpy(calib_x), torch.from_numpy(calib_y).long()
        torch.save(_train(mynet.MyNet(), xt, yt), home / "model.pt")
        torch.save(_train(mynet.Small(), xt, yt).state_dict(), home / "small.pt")
    finally:
        del sys.modules["mynet"]
    np.savez(home / "calib.npz", x=calib_x)
    with np.load(ROOT / "samples" / "digits_test.npz") as f:
        save_data(home, f["x"], f["y"])
    res = run(home, "ann2snn", "model.pt", "--trust", "--calib", "calib.npz", "-o", "m.sjir")
    assert res.returncode == 0, res.stderr
    return home


SCRIPT = Path(sys.executable).parent / "sjconvert"
HIDDEN = ("PYTHONPATH", "SJCONVERT_DEBUG", "SJCONVERT_LAVA_PYTHON", "PYTHONWARNINGS")


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """The user's environment: only sjconvert importable (a folder with a link to it)."""
    link = home.parent / f"{home.name}_path"
    if not link.exists():
        link.mkdir()
        (link / "sjconvert").symlink_to(ROOT / "sjconvert")
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN}
    return env | {"PYTHONPATH": str(link), "COLUMNS": "200"} | extra


def run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``sjconvert ARGS`` as the user runs it: the environment's console script, in the
    user's folder, with nothing of the repository importable but sjconvert (``env``: more
    environment variables)."""
    return subprocess.run(
        [str(SCRIPT), *args], cwd=home, env=user_env(home, **env), capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip


def start(home: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    """``sjconvert ARGS`` started as :func:`run` runs it, with Ctrl-C's default action (a
    test runner in the background may ignore SIGINT, and the child would inherit that)."""
    return subprocess.Popen(
        [str(SCRIPT), *args], cwd=home, env=user_env(home, **env), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip


def files(home: Path) -> set[str]:
    return {p.name for p in home.iterdir()}


def refused(home: Path, code: int, *args: str, **env: str) -> str:
    """Run a command that must fail: one ``error:`` line on stderr, exit ``code``, no
    traceback, nothing on stdout, no file left behind. Returns the line."""
    before = files(home)
    res = run(home, *args, **env)
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    what = f"{' '.join(args)} -> exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    assert res.returncode == code, what
    assert len(lines) == 1 and lines[0].startswith("error: "), what
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr, what
    assert res.stdout.strip() == "", what
    assert files(home) == before, f"left behind: {files(home) - before}"
    return lines[0]


def works(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    res = run(home, *args, **env)
    assert res.returncode == 0, f"{' '.join(args)}\n{res.stdout}\n{res.stderr}"
    assert "internal error" not in res.stderr
    return res


def peak_kib(home: Path, *args: str) -> int:
    """The peak resident memory (KiB) of ``sjconvert ARGS`` run as :func:`run` runs it
    (the fixture made its import path)."""
    proc = subprocess.Popen(
        [str(SCRIPT), *args], cwd=home, env=user_env(home), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, f"{' '.join(args)}: exit {proc.returncode}"
    return int(usage.ru_maxrss)
