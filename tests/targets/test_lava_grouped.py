"""Grouped convolutions stay grouped through the lowering (ResNeXt-101's 2048-channel
kernels would be 32 × larger dense): every synapse is bit for bit the one the same graph
with each grouped kernel written out dense-channel (zeros off its blocks) lowers to."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sjconvert.ir import nodes as ir
from sjconvert.targets.lava.lowering.compose import expand_groups, find_groups
from sjconvert.targets.lava.lowering.populations import lower
from tests.targets.lava_graphs import DagBuilder


def _graph(r: np.random.Generator, dense: bool) -> ir.Graph:
    """Grouped convs read straight from a population (then batch norm), after an average
    pool (composed), reading a concatenation's part, and before a pointwise conv."""

    def conv(c_in: int, c_out: int, k: int, groups: int, src: str, pad: int = 0) -> str:
        w = r.normal(0, 0.5, (c_out, c_in // groups, k, k)).astype(np.float32)
        w, groups = (expand_groups(w, groups), 1) if dense else (w, groups)
        return b.add(ir.Conv2d(w, r.normal(0, 0.1, c_out), 1, pad, 1, groups), src)

    b = DagBuilder((4, 8, 8))
    stem = b.add(ir.IF(1.0, 0.0), conv(4, 8, 3, 2, "x", 1))
    c = 8
    bn = ir.BatchNorm(r.normal(size=c), r.uniform(0.5, 2, c), r.normal(size=c), r.normal(size=c))
    a = b.add(ir.IF(1.0, 0.0), b.add(bn, conv(8, 8, 3, 4, stem, 1)))
    pooled = conv(8, 8, 3, 4, b.add(ir.AvgPool2d(2, 2, 0), a), 1)
    p = b.add(ir.IF(1.0, 0.0), pooled)
    cat = b.add(
        ir.Concat(), p, b.add(ir.IF(1.0, 0.0), conv(8, 8, 1, 8, b.add(ir.AvgPool2d(2, 2, 0), stem)))
    )
    q = b.add(ir.IF(1.0, 0.0), conv(8, 4, 1, 2, conv(16, 8, 3, 8, cat, 1)))
    return b.graph(q)


@pytest.mark.parametrize("seed", [0, 1])
def test_grouped_convolutions_lower_like_their_dense_form(seed):
    grouped = lower(_graph(np.random.default_rng(seed), dense=False))
    dense = lower(_graph(np.random.default_rng(seed), dense=True))
    assert [s.name for s in grouped.synapses] == [s.name for s in dense.synapses]
    assert {s.groups for s in grouped.synapses} > {1}  # the groups were found again
    for g, d in zip(grouped.synapses, dense.synapses, strict=True):
        assert (g.src, g.dst, g.kind, g.groups, g.stride, g.padding) == (
            d.src, d.dst, d.kind, d.groups, d.stride, d.padding
        )  # fmt: skip
        assert g.weight.dtype == d.weight.dtype and g.weight.shape == d.weight.shape
        assert g.weight.tobytes() == d.weight.tobytes(), g.name
    for name, pop in grouped.populations.items():
        assert np.asarray(pop.bias).tobytes() == np.asarray(dense.populations[name].bias).tobytes()


@settings(max_examples=60, deadline=None)
@given(
    groups=st.sampled_from([1, 2, 3, 4, 6]),
    per_out=st.integers(1, 4),
    per_in=st.integers(1, 4),
    zero_every=st.sampled_from([0, 2, 3]),
    seed=st.integers(0, 2**16),
)
def test_find_groups_on_a_grouped_kernel_is_find_groups_on_its_dense_form(
    groups, per_out, per_in, zero_every, seed
):
    """Also where zero blocks inside the groups make more (or other) groups."""
    r = np.random.default_rng(seed)
    w = r.normal(size=(groups * per_out, per_in, 2))
    if zero_every:  # a grouped kernel that is block diagonal on a finer grid
        dense = expand_groups(w, groups)
        co, ci = dense.shape[:2]
        for i in range(co):
            dense[i, [j for j in range(ci) if (j * zero_every) // ci != (i * zero_every) // co]] = 0
        w = np.concatenate([dense[g * per_out : (g + 1) * per_out, g * per_in : (g + 1) * per_in]
                            for g in range(groups)])  # fmt: skip
    got, want = find_groups(w, groups), find_groups(expand_groups(w, groups))
    assert got[1] == want[1]
    assert got[0].dtype == want[0].dtype and np.array_equal(got[0], want[0])
