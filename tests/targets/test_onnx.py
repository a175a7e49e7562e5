"""ONNX export run in ONNX Runtime: exact against the reference simulator where float sums
are order-independent (dyadic weights), measured agreement on the trained samples, rank ≤ 4
on every graph value, deterministic files."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from sjconvert.errors import EmitError
from sjconvert.exec.parity import reference_run
from sjconvert.frontends.loading import DataSource
from sjconvert.targets.onnx.export import (
    export_step,
    export_unrolled,
    initial_state,
    rank_violations,
    save_onnx,
)
from sjconvert.targets.onnx.parity import verify_onnx
from sjconvert.targets.onnx.runtime import run_steps, run_unrolled, session
from tests.targets.snn_graphs import NEURONS, dyadic, neuron_zoo


def _dyadic_input(x: np.ndarray) -> np.ndarray:
    return (np.round(x * 16) / 16).astype(np.float32)


@pytest.mark.parametrize("name", ["digits", "mnist1d"])
def test_unrolled_onnx_is_identical_where_sums_are_exact(samples, name: str) -> None:
    """Dyadic weights and inputs make every synaptic sum exact, so ONNX Runtime's kernels
    and torch's must give the same currents: rates and per-layer spike counts are equal."""
    graph = dyadic(samples[name][0])
    x = _dyadic_input(samples[name][1]["x"][:64])
    T = 8
    ref_rates, ref_counts, _ = reference_run(graph, x, T)
    rates, counts = run_unrolled(session(export_unrolled(graph, T, counts=True)), x)
    assert sum(c.sum() for c in ref_counts.values()) > 1000
    assert np.array_equal(rates, ref_rates[-1])
    assert counts.keys() == ref_counts.keys()
    assert all(np.array_equal(counts[k], ref_counts[k]) for k in counts)


@pytest.mark.parametrize("kind", ["if_hard_vinit", "lif_no_decay_input_soft", "plif_decay"])
def test_step_model_spike_trains_are_identical(kind: str) -> None:
    graph = dyadic(neuron_zoo(NEURONS[kind], np.random.default_rng(3)))
    x = _dyadic_input(np.random.default_rng(4).uniform(-1, 2, size=(8, 2, 6, 6)))
    T = 6
    ref_rates, _, trains = reference_run(graph, x, T, trains=True)
    model = export_step(graph, counts=True)
    rates, spikes = run_steps(session(model), model, x, T)
    assert np.array_equal(rates, ref_rates)  # the running mean after every step
    assert spikes.keys() == trains.keys()
    assert all(np.array_equal(spikes[k], trains[k]) for k in trains)
    state = initial_state(model, 8)
    assert state["v:n2"].shape == (8, 3, 6, 6) and state["v:n2"][0, 0, 0, 0] == 0.5


def test_trained_samples_agree_in_float32_and_float16(samples) -> None:
    """Real weights: ONNX Runtime rounds sums differently from torch (last-bit), which can
    move a spike where a membrane sits at the threshold; measured agreement stays high."""
    graph, test = samples["digits"]
    data = DataSource("digits", arrays=(test["x"][:192], test["y"][:192]), batch_size=96)
    f32 = verify_onnx(graph, export_unrolled(graph, 8, counts=True), data, 8)
    assert f32.samples == 192 and f32.prediction_agreement >= 0.99
    assert f32.spike_count_agreement >= 0.995 and f32.max_rate_error < 0.5
    assert f32.accuracy == pytest.approx(f32.accuracy_reference, abs=0.011)
    f16 = verify_onnx(graph, export_unrolled(graph, 8, "float16", counts=True), data, 8)
    assert f16.prediction_agreement >= 0.95 and f16.accuracy >= 0.9


@pytest.mark.parametrize("form", ["unrolled", "step"])
def test_graph_values_are_rank_4_and_export_is_deterministic(samples, form, tmp_path) -> None:
    graph = samples["digits"][0]
    export = (lambda: export_step(graph)) if form == "step" else (lambda: export_unrolled(graph, 4))
    model = export()
    inferred = onnx.shape_inference.infer_shapes(model).graph
    assert len(inferred.value_info) > 20 and rank_violations(model) == []
    assert max(len(v.type.tensor_type.shape.dim) for v in inferred.value_info) == 4
    assert model.opset_import[0].version >= 17
    assert model.SerializeToString() == export().SerializeToString()
    path = save_onnx(model, tmp_path / "m.onnx")
    assert onnx.load(str(path)).graph.output[0].name == graph.outputs[0]


def test_rank_check_names_every_5d_value() -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 4, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 3, 4, 5])
    model = helper.make_model(
        helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    )
    assert rank_violations(model) == ["input x: rank 5 > 4", "output y: rank 5 > 4"]


def test_initial_state_needs_a_step_model(samples) -> None:
    with pytest.raises(EmitError, match="not a step model"):
        initial_state(export_unrolled(samples["digits"][0], 2), 1)


def test_sequence_input_model_is_identical_where_sums_are_exact() -> None:
    graph = dyadic(neuron_zoo(NEURONS["lif_decay_input_hard"], np.random.default_rng(5)))
    T = 4
    seq = _dyadic_input(np.random.default_rng(6).uniform(-1, 2, size=(T, 8, 2, 6, 6)))
    ref_rates, ref_counts, _ = reference_run(graph, seq, T, sequence=True)
    model = export_unrolled(graph, T, sequence=True, counts=True)
    rates, counts = run_unrolled(session(model), seq.reshape(T * 8, 2, 6, 6))
    assert np.array_equal(rates, ref_rates[-1])
    assert all(np.array_equal(counts[k], ref_counts[k]) for k in ref_counts)
