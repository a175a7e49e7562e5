"""The plots read their numbers from the result objects (per-T cost series included)."""

from __future__ import annotations

import sys

import pytest

from sjconvert.api.plots import cost_series, plot_simulation
from sjconvert.errors import InputError
from sjconvert.exec.evaluate import Evaluation
from sjconvert.ir import nodes as ir
from tests.conftest import chain

PNG = b"\x89PNG\r\n\x1a\n"


def _evaluation() -> Evaluation:
    return Evaluation(100, [2, 4], {2: 0.5, 4: 0.75}, 0.8, True, 120.0, 0.1, {"n1": 120.0})


def test_cost_series_takes_every_series_keyed_by_t() -> None:
    doc = {
        "snn": {"2": 0.5, "4": 0.75},
        "spikes_per_T": {"2": 60.0, "4": 120.0},
        "cost": {"2": {"synops": 1e3, "energy_nJ": 2.0}, "4": {"synops": 2e3, "energy_nJ": 4.0}},
        "spikes_per_sample_per_layer": {"conv1": 3.0},
        "samples": 100,
    }
    assert cost_series(doc) == {
        "spikes_per_T": {2: 60.0, 4: 120.0},
        "synops": {2: 1e3, 4: 2e3},
        "energy_nJ": {2: 2.0, 4: 4.0},
    }


@pytest.mark.plot
def test_plot_simulation_writes_a_png(tmp_path) -> None:
    graph = chain((3,), ir.Linear([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), ir.IF(1.0, None))
    out = plot_simulation(_evaluation(), tmp_path / "sim.png", graph, title="test")
    assert out.read_bytes()[:8] == PNG


def test_plot_without_matplotlib_is_one_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(InputError, match=r"sjconvert\[plot\]"):
        plot_simulation(_evaluation(), tmp_path / "sim.png", chain((3,), ir.IF(1.0, None)))


@pytest.mark.plot
def test_unwritable_plot_path_is_an_input_error(tmp_path) -> None:
    with pytest.raises(InputError, match=r"folder .*no does not exist"):
        plot_simulation(_evaluation(), tmp_path / "no" / "sim.png", chain((3,), ir.IF(1.0, None)))


@pytest.mark.parametrize(("name", "why"), [("sim", "no file type"), ("sim.sjir", "not an image")])
def test_a_plot_name_without_an_image_type_is_refused(tmp_path, name: str, why: str) -> None:
    with pytest.raises(InputError, match=why):
        plot_simulation(_evaluation(), tmp_path / name, chain((3,), ir.IF(1.0, None)))
    assert list(tmp_path.iterdir()) == []
