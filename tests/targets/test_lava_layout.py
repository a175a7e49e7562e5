"""TNX ↔ NXT (SpikingJelly's multi-step layout and Lava-DL's): inverse axis moves."""

from __future__ import annotations

import numpy as np
import torch

from sjconvert.targets.lava.layout import nxt_to_tnx, tnx_to_nxt


def test_tnx_nxt_round_trip_numpy_and_torch():
    x = np.arange(6 * 4 * 2 * 3).reshape(6, 4, 2, 3)
    y = tnx_to_nxt(x)
    assert y.shape == (4, 2, 3, 6)
    assert y[1, 0, 2, 5] == x[5, 1, 0, 2]
    np.testing.assert_array_equal(nxt_to_tnx(y), x)
    t = torch.tensor(x)
    assert torch.equal(nxt_to_tnx(tnx_to_nxt(t)), t)
    assert tnx_to_nxt(t).shape == (4, 2, 3, 6)
