"""MobileNetV2 (torchvision, random weights) on the CuPy target's code path equals the
reference bit for bit: its ReLU6 layers in the ANN graph, its signed neurons and depthwise
convolutions in the SNN. The target's emitters run every op from its one definition
(torch kernels on the arrays' memory) and every neuron layer as the generated CUDA kernel,
compiled here for the host (:mod:`tests.targets.host_kernels`) with NumPy arrays standing
in for CuPy's; on a GPU ``test_cupy_gpu.py`` runs the same code on CuPy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sjconvert
from sjconvert.exec import Simulator
from sjconvert.exec.arrays import Arrays
from sjconvert.targets.cupy import Context, simulation
from tests.targets.host_kernels import HAS_COMPILER, host_launch

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(not HAS_COMPILER, reason="needs a C++ compiler (g++) for the host"),
]


@pytest.fixture(scope="module")
def mobilenet() -> tuple:
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2(weights=None, num_classes=10).eval()
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    return sjconvert.ann2snn(model, [x]), x


def _cupy_path(graph):
    return simulation(graph, Context(Arrays(np, np.dtype(np.float32)), host_launch))


def test_relu6_ann_graph_equals_the_reference(mobilenet) -> None:
    conv, x = mobilenet
    assert any(getattr(n, "max_value", None) == 6.0 for _, n in conv.ann)
    ref = Simulator(conv.ann).run(x, T=2)
    res = _cupy_path(conv.ann).run(x.numpy(), T=2)
    assert torch.equal(res.output, ref.output)


def test_snn_equals_the_reference_bit_for_bit(mobilenet) -> None:
    conv, x = mobilenet
    ref = Simulator(conv.snn).run(x, T=6)
    res = _cupy_path(conv.snn).run(x.numpy(), T=6)
    assert torch.equal(res.output, ref.output)
    assert res.spikes == ref.spikes and sum(ref.spikes.values()) > 0
    for layer, counts in ref.spikes_at.items():
        assert torch.equal(res.spikes_at[layer], counts), layer
