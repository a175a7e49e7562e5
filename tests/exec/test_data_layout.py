"""Sample-major data, time-major data and the executors' inputs (:mod:`sjconvert.exec.data_layout`):
which form a batch has for a graph, the view the executors take, and one clear line for a
shape that fits no form."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sjconvert.errors import InputError
from sjconvert.exec import Simulator
from sjconvert.exec.data_layout import (
    batch_steps,
    count_mismatch,
    is_sequence,
    model_input,
    sample_major,
)
from sjconvert.exec.evaluate import evaluate
from sjconvert.ir import Graph
from sjconvert.ir import nodes as ir

STEP = (2, 3)


def _graph(sequence: bool) -> Graph:
    """``Input(2, 3) → Flatten → Linear(6 → 4) → IF``, its input a sequence or not."""
    w = np.arange(24, dtype=np.float32).reshape(4, 6) / 24 - 0.3
    nodes = {
        "x": ir.Input(STEP, sequence=sequence),
        "flat": ir.Flatten(1, -1),
        "fc": ir.Linear(w, None),
        "sp": ir.IF(1.0, 0.0, 0.0),
    }
    edges = {"x": (), "flat": ("x",), "fc": ("flat",), "sp": ("fc",)}
    return Graph(nodes, edges, ("sp",))


def test_sample_major_swaps_time_major_views() -> None:
    x = np.arange(5 * 4 * 6, dtype=np.float32).reshape(5, 4, *STEP)  # [T=5, N=4, 2, 3]
    sm = sample_major(x, time_major=True)
    assert sm.shape == (4, 5, *STEP)
    assert np.shares_memory(sm, x)
    assert np.array_equal(sm[2, 3], x[3, 2])
    assert sample_major(x, time_major=False) is x
    t = torch.from_numpy(x)
    assert torch.equal(sample_major(t, True)[1], t[:, 1])


def test_time_major_needs_a_step_axis() -> None:
    with pytest.raises(InputError, match=r"time-major data is \[T, N, \.\.\.\].*\[4, 6\]"):
        sample_major(np.zeros((4, 6)), time_major=True)


def test_batch_steps_reads_each_form() -> None:
    seq, direct = _graph(True), _graph(False)
    assert is_sequence(seq) and not is_sequence(direct)
    assert batch_steps(seq, (7, 5, *STEP)) == 5
    assert batch_steps(direct, (7, *STEP)) is None


def test_either_form_runs_on_either_graph() -> None:
    """A graph records the form it was made for; data of the other form still runs (a
    direct input is the same at every step, a sequence drives a converted ANN)."""
    assert batch_steps(_graph(False), (7, 5, *STEP)) == 5
    assert batch_steps(_graph(True), (7, *STEP)) is None


@pytest.mark.parametrize("sequence", [True, False])
@pytest.mark.parametrize("shape", [(7, 3, 2), (7, 5, 3, 2), (7, 5, 1, *STEP), (7,)])
def test_other_shapes_are_refused_naming_every_form(shape: tuple[int, ...], sequence: bool) -> None:
    with pytest.raises(InputError) as err:
        batch_steps(_graph(sequence), shape)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"data 'x' of shape {list(shape)} fits none of the model's input forms" in msg
    assert "[N, T, 2, 3] (sequences, sample-major" in msg
    assert "[T, N, 2, 3] (sequences, time-major, with --time-major)" in msg
    assert "[N, 2, 3] (a direct input" in msg
    assert "per-step input shape [2, 3]" in msg
    if shape == (7, 3, 2):  # the channels-last layout of [2, 3]: the hint says how to fix it
        assert msg.endswith("transpose it, e.g. x.transpose(0, 2, 1)")
    first = "[N, T, 2, 3]" if sequence else "[N, 2, 3]"  # the form the graph was made for
    assert msg.index(first) == min(msg.index("[N, T, 2, 3]"), msg.index("[N, 2, 3]"))


def test_model_input_is_the_time_major_view_of_the_first_T_steps() -> None:
    x = torch.rand(4, 6, *STEP)
    got, seq = model_input(_graph(True), x, T=5)
    assert seq and got.shape == (5, 4, *STEP)
    assert torch.equal(got, x[:, :5].transpose(0, 1))
    direct = torch.rand(4, *STEP)
    assert model_input(_graph(False), direct, T=9) == (direct, False)
    with pytest.raises(InputError, match="sequences of 6 steps; cannot run T=7"):
        model_input(_graph(True), x, T=7)


def test_count_mismatch_hints_at_time_major_data() -> None:
    assert "pass --time-major" in count_mismatch((16, 64, *STEP), 64, time_major=False)
    assert "--time-major" not in count_mismatch((16, 64, *STEP), 32, time_major=False)
    assert count_mismatch((16, 64, *STEP), 64, time_major=True) == (
        "'x' has 16 samples but 'y' has 64"
    )


def test_evaluate_runs_sample_major_sequences_as_the_simulator_runs_them() -> None:
    """Accuracy per T from sample-major batches equals the simulator's own predictions on
    the time-major input; with no T, the data's length is run."""
    g = _graph(True)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(10, 6, *STEP, generator=gen) < 0.5).float()
    pred = Simulator(g).run(x.transpose(0, 1), T=6).output.argmax(-1)  # [T, N]
    y = pred[-1]
    res = evaluate(Simulator(g), [(x[:6], y[:6]), (x[6:], y[6:])], None)
    assert res.steps == [6] and res.samples == 10 and res.snn[6] == 1.0
    res = evaluate(Simulator(g), [(x, y)], [3, 6])
    assert res.snn[3] == int((pred[2] == y).sum()) / 10
    frame = x[:, 0]  # a direct input is the sequence that repeats it
    tiled = evaluate(Simulator(g), [(frame[:, None].expand(-1, 6, *STEP), y)], None)
    assert evaluate(Simulator(g), [(frame, y)], 6).snn == tiled.snn
