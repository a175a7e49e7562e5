"""The hostile-HDF5 corpus through all three HDF5 readers (IR ``inspect``, NetX ``fit``,
NIR ``from-nir``): every entry is refused in one line with exit code 2, nothing from the
secret files beside it is printed, and no file is left behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sjconvert.cli.main import app

from . import hostile
from .conftest import REPO
from .harness import problems

pytestmark = pytest.mark.fuzz

READERS = {
    "ir": ("ir", lambda m, w: ["inspect", str(m)], set()),
    "netx": ("netx_cuba", lambda m, w: ["fit", str(m)], set()),
    "nir": ("nir", lambda m, w: ["from-nir", str(m), "-o", str(w / "out.sjir")], {"out.sjir"}),
}
SECRETS = {"secret.txt", "secret.h5"}


@pytest.mark.parametrize("kind", sorted(hostile.EDITS))
@pytest.mark.parametrize("reader", sorted(READERS))
def test_hostile_hdf5_is_refused(
    reader: str, kind: str, corpus: dict[str, Path], cli: CliRunner, tmp_path: Path
) -> None:
    seed, command, outputs = READERS[reader]
    mutant = tmp_path / f"m.{reader}"
    hostile.build(corpus[seed], kind, mutant)
    result = cli.invoke(app, command(mutant, tmp_path))
    assert problems(result, tmp_path, {mutant.name, *SECRETS}, outputs) == [], result.output
    assert result.exit_code == 2, result.output
    assert hostile.SECRET not in result.output
    assert "TOP-SECRET" not in result.output


def test_inspect_never_reads_etc_passwd(corpus: dict[str, Path], tmp_path: Path) -> None:
    """The reported attack, in a real process: an .sjir whose bias is stored in /etc/passwd."""
    passwd = Path("/etc/passwd")
    if not passwd.is_file():
        pytest.skip("no /etc/passwd on this system")
    import h5py

    mutant = tmp_path / "attack.sjir"
    mutant.write_bytes(corpus["ir"].read_bytes())
    with h5py.File(mutant, "r+") as f:
        found: list[str] = []
        f["graph"].visititems(lambda n, o: found.append(n) if n.endswith("bias") else None)
        path = f"graph/{found[0]}"
        n = int(f[path].size)
        del f[path]
        f.create_dataset(path, (n,), "f4", external=[(str(passwd), 0, 4 * n)])
    proc = subprocess.run(
        [sys.executable, "-m", "sjconvert", "inspect", str(mutant), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "another file" in lines[0], proc.stderr
    assert "root:" not in proc.stderr
