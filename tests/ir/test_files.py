"""Writing outputs: umask permissions, no temporary file left on error, Ctrl-C or a killed
run, refused targets, symbolic links followed, existing outputs replaced whole."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sjconvert.errors import InputError
from sjconvert.ir.files import TMP_TAG, atomic_write, remove_stale, temp_path

ROOT = Path(__file__).resolve().parents[2]


def _write(text: str):
    return lambda tmp: tmp.write_text(text)


def test_outputs_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        atomic_write(tmp_path / "a.txt", _write("x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    old = os.umask(0o002)
    try:
        atomic_write(tmp_path / "a.txt", _write("y"))  # replacing gets the umask too
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o664


@pytest.mark.parametrize("error", [ValueError("boom"), KeyboardInterrupt()])
def test_errors_and_ctrl_c_leave_no_temporary_file(tmp_path: Path, error: BaseException) -> None:
    (tmp_path / "keep.txt").write_text("previous")

    def fail(tmp: Path) -> None:
        tmp.write_text("partial")
        raise error

    with pytest.raises(type(error)):
        atomic_write(tmp_path / "keep.txt", fail)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
    assert (tmp_path / "keep.txt").read_text() == "previous"


def test_refused_targets(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder"):
        atomic_write(tmp_path, _write("x"))
    with pytest.raises(InputError, match=r"folder .*missing.* does not exist"):
        atomic_write(tmp_path / "missing" / "a.txt", _write("x"))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        atomic_write(fifo, _write("x"))


def test_a_symbolic_link_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to("real.txt")
    atomic_write(tmp_path / "link.txt", _write("new"))
    assert (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "real.txt").read_text() == "new"


def test_stale_files_of_dead_runs_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    stale = tmp_path / f".out.sjir{TMP_TAG}{dead.stdout.strip()}-0a1b2c3d"
    live = temp_path(tmp_path / "out.sjir")  # this process's own
    other = tmp_path / ".notes.txt"
    for p in (stale, live, other):
        p.write_text("x")
    assert remove_stale(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name])


KILLED_WRITER = """
import sys, time
from pathlib import Path
from sjconvert.ir.files import atomic_write

def write(tmp):
    tmp.write_text("half")
    print(tmp, flush=True)
    time.sleep(60)

atomic_write(Path(sys.argv[1]), write)
"""


def test_a_run_killed_mid_write_leaves_a_temp_the_next_write_removes(tmp_path: Path) -> None:
    """SIGKILL during a write (no handler can run): the output is untouched, the hidden
    ``.sjtmp-<pid>`` file is never mistaken for it, and the next write cleans it up."""
    out = tmp_path / "model.sjir"
    out.write_text("previous")
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLED_WRITER), str(out)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    tmp = Path(proc.stdout.readline().strip())
    proc.kill()
    proc.wait()
    proc.stdout.close()
    assert tmp.exists() and tmp.name.startswith(".model.sjir.sjtmp-")
    assert out.read_text() == "previous"
    atomic_write(tmp_path / "other.txt", _write("x"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.sjir", "other.txt"]
