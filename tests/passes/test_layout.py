"""TNX ↔ NXT: data helpers are inverse axis moves; the IR pass records the layout only."""

from __future__ import annotations

import numpy as np
import torch

from sjconvert.ir import nodes as ir
from sjconvert.passes.layout import layout, nxt_to_tnx, tnx_to_nxt, to_layout, to_nxt, to_tnx
from tests.targets.lava_graphs import chain


def test_tnx_nxt_round_trip_numpy_and_torch():
    x = np.arange(6 * 4 * 2 * 3).reshape(6, 4, 2, 3)
    y = tnx_to_nxt(x)
    assert y.shape == (4, 2, 3, 6)
    assert y[1, 0, 2, 5] == x[5, 1, 0, 2]
    np.testing.assert_array_equal(nxt_to_tnx(y), x)
    t = torch.tensor(x)
    assert torch.equal(nxt_to_tnx(tnx_to_nxt(t)), t)
    assert tnx_to_nxt(t).shape == (4, 2, 3, 6)


def test_layout_pass_records_meta_and_keeps_nodes():
    g = chain((3,), ir.Linear(np.eye(3)), ir.IF(1.0, 0.0))
    assert layout(g) == "TNX"
    n = to_nxt(g)
    assert layout(n) == "NXT" and layout(g) == "TNX"  # the input graph is unchanged
    assert list(n.nodes) == list(g.nodes)
    x = np.zeros((5, 2, 3))
    assert to_layout(n, x).shape == (2, 3, 5)
    assert to_layout(to_tnx(n), x).shape == (5, 2, 3)
