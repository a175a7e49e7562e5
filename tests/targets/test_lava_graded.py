"""Our ``GradedIF`` process is SpikingJelly's signed IF (and soft-reset IF) on integers, step
for step, and Lava's ``SigmaDelta`` is not: the counter-example ``docs/lava.md`` cites. Also
the graded mapping of the default conversion: per-channel scales, start steps, readout."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sjconvert.exec import Simulator
from sjconvert.ir import nodes as ir
from sjconvert.targets.lava.build import predict_fixed_point, to_loihi
from sjconvert.targets.lava.fixed_point.neuron_models import GradedIF, SigmaDelta
from tests.conftest import chain


def _graded(vth: int, burst: int, negative: int, v_init: int = 0) -> GradedIF:
    args = {"shape": [1], "vth": vth, "max_spikes": burst, "negative": negative}
    return GradedIF({**args, "v_init": v_init, "bias": 0, "start": 0}, 1)


@settings(max_examples=40, deadline=None)
@given(
    xs=st.lists(st.integers(-30, 30), min_size=1, max_size=12),
    vth=st.integers(1, 9),
    burst=st.integers(1, 5),
    v_init=st.integers(0, 8),
    signed=st.booleans(),
)
def test_graded_if_is_the_signed_and_the_soft_reset_if(xs, vth, burst, v_init, signed):
    """On integer inputs and thresholds the float neuron is exact, so the spike trains of
    the IR's neuron (the simulator) and of our process must be equal."""
    node = ir.SignedIF(float(vth), float(v_init), max_spikes=burst) if signed else None
    node = node or ir.IF(float(vth), None, float(v_init))
    burst = burst if signed else 1
    seq = torch.tensor(xs, dtype=torch.float32).reshape(len(xs), 1, 1)
    graph = chain((1,), node)
    ref = Simulator(graph).run(seq, T=len(xs), sequence=True)
    counts = np.rint(ref.output[:, 0, 0].numpy() * np.arange(1, len(xs) + 1))
    cell = _graded(vth, burst, 1 if signed else 0, v_init)
    ours = np.cumsum([int(cell.step(np.array([[x]]))[0, 0]) for x in xs])
    np.testing.assert_array_equal(ours, counts)


def test_sigma_delta_is_not_a_signed_if():
    """``SigmaDelta`` (ReLU, delta threshold 4, messages ``>> 2``) against ``GradedIF``
    (threshold 4, bursts of 4, signed with memory) on one input: the sigma-delta neuron
    drops the remainders its shift cuts off and has no burst limit; the signed IF keeps
    remainders in its membrane and sends at most 4 per step."""
    xs = [3, 3, -5, 9, 20]
    sd = SigmaDelta({"shape": [1], "vth": 4, "act_mode": 1, "spike_exp": 0, "state_exp": 2}, 1)
    sd.vth = 4  # in state units, as GradedIF's
    signed = _graded(4, 4, 1)
    got_sd = [int(sd.step(np.array([[x]]))[0, 0]) for x in xs]
    got_if = [int(signed.step(np.array([[x]]))[0, 0]) for x in xs]
    assert got_if == [0, 1, -1, 2, 4]
    assert got_sd == [0, 1, -2, 2, 5]


def test_the_graded_mapping_keeps_the_default_conversions_parameters():
    """Per-channel thresholds and starts, the pipeline stage as start, the readout's bias
    added per input step at the read."""
    r = np.random.default_rng(0)
    graph = chain(
        (3,),
        ir.Linear(r.normal(0, 1, (4, 3)), r.normal(0, 0.1, 4)),
        ir.SignedIF(np.array([1.0, 2.0, 0.5, 1.0]), np.array([0.5, 0.2, 0.0, 0.4]), max_spikes=4),
        ir.Linear(r.normal(0, 1, (2, 4)), np.array([0.3, -0.2])),
        ir.Readout(),
    )
    exp = to_loihi(graph, 3, x_max=1.0)
    first, out = exp.net.neurons["n1"], exp.net.neurons["n3"]
    assert first.model == "graded" and first.start == 1 and first.max_spikes == 4
    assert len(set(first.vth.tolist())) > 1  # a scale per channel
    np.testing.assert_allclose(first.v / first.vth, [0.5, 0.1, 0.0, 0.4], atol=0.01)  # v/θ
    assert out.model == "sigma" and out.step_bias is not None
    meta = exp.graph.graph["meta"]
    assert (meta["input_steps"], meta["latency"]) == (3, 2)
    x = r.uniform(-1, 1, (50, 3)).astype(np.float32)
    ref = Simulator(graph).run(torch.from_numpy(x), T=3).output[-1].argmax(-1).numpy()
    assert np.mean(predict_fixed_point(exp, x) == ref) >= 0.95
