"""A run that would not fit in memory is refused before it starts (issue 26), wherever the
executor estimates its memory (``memory_estimate(batch, T)``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sjconvert.api.memory import available_memory, check_memory, describe_size, parse_size
from sjconvert.cli.main import app
from sjconvert.errors import InputError
from sjconvert.exec.reference import Simulator
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph
from sjconvert.ir.io import save


@pytest.mark.parametrize(
    ("text", "size"),
    [("8G", 8 << 30), ("512M", 512 << 20), ("1.5 GiB", 3 << 29), ("1000", 1000), ("2kb", 2048)],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "8X", "-1G", "0", "lots"])
def test_bad_sizes_are_one_line(text: str) -> None:
    with pytest.raises(InputError, match="--max-memory takes a size"):
        parse_size(text)


class _Estimating:
    def memory_estimate(self, batch: int, T: int) -> int:
        return batch * T * 1000


def test_check_memory_refuses_what_exceeds_the_limit() -> None:
    assert check_memory(object(), 256, 10**6) is None  # no estimate: nothing checked
    assert check_memory(_Estimating(), 2, 8, limit=1 << 20) == 16000
    with pytest.raises(InputError, match=r"T=1000000 on batches of 256 needs about 238\.4 GiB"):
        check_memory(_Estimating(), 256, 10**6, limit=8 << 30)
    assert available_memory() is None or available_memory() > 0
    assert describe_size(3 << 29) == "1.5 GiB"


def test_simulate_refuses_before_it_runs(tmp_path: Path, monkeypatch) -> None:
    """With an executor that estimates its memory, ``simulate -T 1000000`` is one line and
    exit 2 at once (the simulation would need hours otherwise)."""
    monkeypatch.setattr(Simulator, "memory_estimate", _Estimating.memory_estimate, raising=False)
    graph = Graph({"x": ir.Input((3,)), "n": ir.IF(1.0)}, {"x": (), "n": ("x",)}, ("n",))
    model = save(tmp_path / "m.sjir", graph)
    np.savez(tmp_path / "d.npz", x=np.ones((4, 3), np.float32), y=np.zeros(4, np.int64))
    args = ["simulate", str(model), "--data", str(tmp_path / "d.npz"), "-T", "1000000"]
    res = CliRunner().invoke(app, [*args, "--max-memory", "1G"])
    assert res.exit_code == 2, res.output
    assert res.output.strip() == (
        "error: simulating T=1000000 on batches of 4 needs about 3.7 GiB (estimated), more "
        "than --max-memory (1.0 GiB); lower -T or --batch-size"
    )
    ok = CliRunner().invoke(app, [*args[:-1], "8", "--max-memory", "1G", "--json"])
    assert ok.exit_code == 0, ok.output
