"""The memory check before a simulation (issue 26): the estimate does not grow with T when
only the asked steps are kept, a limit below it is one InputError before anything runs, in
the API as in the CLI (tests/first_hour/test_resources.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sjconvert
from sjconvert.errors import InputError
from sjconvert.exec.memory import check_memory, estimate, parse_size
from sjconvert.ir import Graph
from sjconvert.ir import nodes as ir


def _snn() -> Graph:
    r = np.random.default_rng(0)
    nodes = {
        "x": ir.Input((1, 8, 8)),
        "c": ir.Conv2d(r.normal(size=(8, 1, 3, 3)), None, 1, 1, 1, 1),
        "n": ir.IF(1.0, 0.0, 0.0),
        "f": ir.Flatten(1, -1),
        "l": ir.Linear(r.normal(size=(10, 512)), None),
        "o": ir.Readout(),
    }
    edges = {"x": (), "c": ("x",), "n": ("c",), "f": ("n",), "l": ("f",), "o": ("l",)}
    return Graph(nodes, edges, ("o",))


def test_the_estimate_is_flat_in_T_when_one_step_is_kept() -> None:
    snn = _snn()
    flat = [estimate(snn, 256, T, [T]) for T in (64, 4096, 10**8)]
    assert flat[1] == flat[2] and flat[0] <= flat[1]
    # keeping every step is what grows: 10⁴ kept means of 10 classes for 256 samples
    assert estimate(snn, 256, 10_000, None) > flat[1] + 256 * 10_000 * 10 * 4


@pytest.mark.parametrize(
    ("text", "size"), [("4000000", 4_000_000), ("512M", 512 << 20), ("1.5GB", 3 << 29)]
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_a_size_that_is_none_is_one_line() -> None:
    with pytest.raises(InputError, match="memory size 'lots'"):
        parse_size("lots")


def test_a_run_over_the_limit_is_refused_before_it_runs() -> None:
    snn = _snn()
    with pytest.raises(InputError, match=r"simulating 256 samples for T=64 needs about"):
        check_memory(snn, 256, 64, [64], limit="1K")
    assert check_memory(snn, 256, 64, [64], limit="1G") == estimate(snn, 256, 64, [64])
    batch = (torch.rand(16, 1, 8, 8), torch.arange(16) % 10)
    with pytest.raises(InputError, match="the memory limit is"):
        sjconvert.simulate(snn, batch, T=10**8, max_memory="1K")  # refused, not run 10⁸ steps
    assert sjconvert.simulate(snn, batch, T=4, max_memory="1G").samples == 16
