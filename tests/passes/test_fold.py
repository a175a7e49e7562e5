"""BatchNorm folding and identity removal: each keeps the graph's function."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from sjconvert.errors import PassError
from sjconvert.exec import Simulator
from sjconvert.frontends import capture
from sjconvert.ir import nodes as ir
from sjconvert.passes import fold_batchnorm, remove_identities, run_pipeline
from sjconvert.passes._math import fold_bn


def _out(g, x):
    return Simulator(g).rate(x)[g.outputs[0]]


@pytest.mark.parametrize("bias", [True, False])
def test_fold_bn_math(bias: bool) -> None:
    r = np.random.default_rng(1)
    w = r.normal(size=(4, 3, 3, 3)).astype(np.float32)
    b = r.normal(size=4).astype(np.float32) if bias else None
    mean, var = r.normal(size=4), r.uniform(0.1, 3, 4)
    gamma, beta = r.normal(size=4), r.normal(size=4)
    x = torch.randn(2, 3, 6, 6)
    conv = torch.nn.functional.conv2d(x, torch.tensor(w), None if b is None else torch.tensor(b))
    want = torch.nn.functional.batch_norm(
        conv, *(torch.tensor(a, dtype=torch.float32) for a in (mean, var, gamma, beta)), eps=1e-3
    )
    wf, bf = fold_bn(w, b, mean, var, 1e-3, gamma, beta)
    got = torch.nn.functional.conv2d(x, torch.tensor(wf), torch.tensor(bf))
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def _bn(c: int, dims: int = 2) -> nn.Module:
    bn = nn.BatchNorm1d(c) if dims == 1 else nn.BatchNorm2d(c)
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.2, 3)
    bn.weight.data.uniform_(-2, 2)
    bn.bias.data.uniform_(-1, 1)
    return bn


def test_fold_batchnorm_graph_keeps_function_and_removes_bn() -> None:
    model = nn.Sequential(
        nn.Conv2d(2, 5, 3, bias=False),
        _bn(5),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(5 * 4 * 4, 6),
        _bn(6, 1),
        nn.Dropout(),
        nn.Linear(6, 2),
    )
    model.eval()
    x = torch.randn(3, 2, 6, 6)
    g = capture(model, x)
    folded = run_pipeline(g, [remove_identities, fold_batchnorm])
    assert [n.op for _, n in folded].count("BatchNorm") == 0
    assert "Dropout" not in [n.op for _, n in folded]
    assert "BatchNorm" in [n.op for _, n in g]  # the input graph is unchanged
    torch.testing.assert_close(_out(folded, x), _out(g, x), rtol=1e-4, atol=1e-5)


def test_fold_skips_conv_read_twice() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c, self.bn = nn.Conv2d(2, 2, 1), _bn(2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.c(x)
            return self.bn(y) + y

    g = capture(Net().eval(), torch.randn(1, 2, 3, 3))
    folded = fold_batchnorm(g)
    assert [n.op for _, n in folded].count("BatchNorm") == 1


def test_pipeline_error_names_failing_pass_and_previous() -> None:
    def refuses(graph):
        raise PassError("boom")

    g = capture(nn.Sequential(nn.Linear(2, 2)), torch.randn(1, 2))
    with pytest.raises(
        PassError, match="pass refuses failed after remove_identities, fold_batchnorm: boom"
    ):
        run_pipeline(g, [remove_identities, fold_batchnorm, refuses])


def test_a_bug_in_a_pass_is_not_reported_as_a_pass_error() -> None:
    def buggy(graph):
        return graph.nodes["missing"]

    g = capture(nn.Sequential(nn.Linear(2, 2)), torch.randn(1, 2))
    with pytest.raises(KeyError):
        run_pipeline(g, [remove_identities, buggy])


@settings(max_examples=25, deadline=None)
@given(
    channels=st.lists(st.integers(1, 6), min_size=1, max_size=3),
    kernel=st.sampled_from([1, 3]),
    bias=st.booleans(),
    linear=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_random_graphs_keep_function(channels, kernel, bias, linear, seed) -> None:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    c_in = 2
    for c in channels:
        layers += [nn.Conv1d(c_in, c, kernel, padding=kernel // 2, bias=bias), _bn(c, 1), nn.ReLU()]
        c_in = c
    if linear:
        layers += [nn.Flatten(), nn.Linear(c_in * 7, 3, bias=bias), _bn(3, 1)]
    model = nn.Sequential(*layers).eval()
    x = torch.randn(4, 2, 7)
    g = capture(model, x)
    folded = run_pipeline(g, [remove_identities, fold_batchnorm])
    assert not any(isinstance(n, ir.BatchNorm) for _, n in folded)
    torch.testing.assert_close(_out(folded, x), _out(g, x), rtol=1e-4, atol=1e-4)
