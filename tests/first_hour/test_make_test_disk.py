"""`make test` on a small disk (`.ci/test-all`): it builds one environment at a time and,
when the next would not fit, removes the ones whose tests already ran, the lean `.venv`
last. Run here with a `make` that "builds" an environment by writing a file of its size and
a `df` that reports a disk of a given size, so each decision of the real script is seen."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What each environment keeps on the fake disk once built (GiB)
KEEPS = {".venv": 2, ".venv-interop": 6, ".venv-py312": 6, ".venv-py313": 6, ".venv-lava": 6}

FAKE_MAKE = """#!/usr/bin/env bash
# `make TARGET`: ENV/.built writes ENV/size (its GiB, from $KEEPS); a test step is logged
for target in "$@"; do
    [[ $target == -* ]] && continue
    if [[ $target == */.built ]]; then
        env=${target%/.built}
        mkdir -p "$env" && echo "${KEEPS[$env]:-1}" > "$env/size" && touch "$target"
        echo "built $env" >> steps.log
    else
        echo "ran $target" >> steps.log
    fi
done
"""

FAKE_DF = """#!/usr/bin/env bash
# `df -P[k] .` of a disk of $DISK_GIB GiB holding the environments' size files
used=0
for f in .venv*/size; do [[ -f $f ]] && used=$(( used + $(cat "$f") )); done
free=$(( (DISK_GIB - used) * 1048576 ))
echo "Filesystem 1024-blocks Used Available Capacity Mounted on"
echo "fake $(( DISK_GIB * 1048576 )) $(( used * 1048576 )) $free 50% /fake"
"""


def _run(tmp_path: Path, disk_gib: int) -> tuple[subprocess.CompletedProcess, str]:
    (tmp_path / ".ci").mkdir()
    shutil.copy(ROOT / ".ci" / "test-all", tmp_path / ".ci" / "test-all")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    keeps = " ".join(f"[{k}]={v}" for k, v in KEEPS.items())
    for name, text in (("make", FAKE_MAKE), ("df", FAKE_DF)):
        script = text.replace("bash\n", f"bash\ndeclare -A KEEPS=({keeps})\n", 1)
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "DISK_GIB": str(disk_gib),
        "MAKE": str(bin_dir / "make"),
        "MAKEFLAGS": "",
    }
    env.pop("PRUNE_ENVS", None)
    done = subprocess.run(
        ["bash", ".ci/test-all"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    log = (tmp_path / "steps.log").read_text() if (tmp_path / "steps.log").exists() else ""
    return done, log


def test_eight_gib_free_run_every_group(tmp_path: Path) -> None:
    done, log = _run(tmp_path, 8)
    assert done.returncode == 0, done.stdout + done.stderr
    for step in ("lint", "test-lean", "test-wheel", "test-interop", "test-py312", "test-lava"):
        assert f"ran {step}" in log
    # the lean .venv (2) and the interop build (7) do not fit in 8 together: .venv goes
    assert "removing .venv (" in done.stdout and "to make room for .venv-interop" in done.stdout
    assert log.index("ran test-wheel") < log.index("built .venv-interop")


def test_too_small_a_disk_fails_the_groups_it_cannot_build_by_name(tmp_path: Path) -> None:
    done, log = _run(tmp_path, 6)
    assert done.returncode == 1
    assert "ran test-lean" in log and "built .venv-interop" not in log
    assert ".venv-interop needs about 7 GB free to build" in done.stdout
    assert "FAILED: test-interop test-py312 test-py313 test-lava" in done.stdout
