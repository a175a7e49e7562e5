"""``to_lava_dl``: slayer CUBA blocks built from a LoihiNet compute, in their own
fixed-point forward, exactly the spikes of our simulator and of Lava."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sjconvert.errors import EmitError
from sjconvert.targets.lava.fixed_point import LoihiLayer, LoihiNet, run
from sjconvert.targets.lava.lava_dl import to_lava_dl
from sjconvert.targets.lava.layout import nxt_to_tnx, tnx_to_nxt
from tests.lava.test_lava_netx import assert_parity
from tests.targets.lava_graphs import conv_dense_net

pytestmark = pytest.mark.lava


def test_blocks_match_fixed_point_and_lava(tmp_path):
    r = np.random.default_rng(0)
    net = conv_dense_net(r, bias=False)
    x = r.integers(0, 30, (3, 2, 6, 5))
    steps = 12
    ours = run(net, x, steps)
    module = to_lava_dl(net)
    nxt = tnx_to_nxt(torch.tensor(net.schedule(x, steps), dtype=torch.float32))
    with torch.no_grad():
        conv = nxt_to_tnx(module[0](nxt)).numpy()
        out = nxt_to_tnx(module(nxt)).numpy()
    assert 0 < ours.spikes["conv"].mean() < 0.8 and ours.spikes["dense"].any()
    np.testing.assert_array_equal(conv, ours.spikes["conv"])
    np.testing.assert_array_equal(out, ours.spikes["dense"])
    assert_parity(net, x[:1], steps, tmp_path / "net.net")


def test_bias_is_refused_by_layer_name():
    r = np.random.default_rng(1)
    layer = LoihiLayer(
        "fc1", "dense", r.integers(-9, 9, (3, 4)), (4,), (3,), vth=10, bias=np.array([1, 0, 2])
    )
    with pytest.raises(EmitError, match=r"fc1.*bias"):
        to_lava_dl(LoihiNet((4,), (layer,)))
