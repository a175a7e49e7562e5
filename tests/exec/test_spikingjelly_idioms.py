"""SpikingJelly's SNN idioms, captured and simulated spike for spike (SpikingJelly 2.0).

Each net is written the way SpikingJelly's tutorials write them — ``functional.set_step_mode``
over ``layer.*`` wrappers (``Dropout``, ``Dropout2d``, ``BatchNorm2d`` among them),
``SeqToANNContainer`` around plain torch layers, ``MultiStepContainer`` around single-step
neurons, ``StepModeContainer`` — and every neuron layer's spike train ``[T, N, ...]`` from
the reference simulator must equal SpikingJelly's (``torch.equal``) on sequence input. The
captured input records ``sequence``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from spikingjelly.activation_based import functional, layer, neuron
from torch import nn

from sjconvert.exec.data_layout import is_sequence
from sjconvert.frontends import capture
from tests.exec.sj_helpers import assert_trains_equal, randomise_bn, scale_weights

pytestmark = pytest.mark.interop

T, N, IMAGE = 10, 4, (1, 8, 8)


def wrappers_net() -> nn.Module:
    """``layer.*`` modules built single-step and switched with ``set_step_mode``."""
    torch.manual_seed(11)
    net = nn.Sequential(
        layer.Conv2d(1, 8, 3, padding=1),
        layer.BatchNorm2d(8),
        neuron.IFNode(),
        layer.Dropout2d(0.3),
        layer.MaxPool2d(2),
        layer.Conv2d(8, 8, 3, padding=1, bias=False),
        neuron.LIFNode(tau=2.0, decay_input=False),
        layer.AvgPool2d(2),
        layer.Flatten(),
        layer.Dropout(0.4),
        layer.Linear(8 * 2 * 2, 10),
        neuron.ParametricLIFNode(init_tau=3.0),
    )
    randomise_bn(net, 11)
    scale_weights(net, 3.0, 5.0, 12.0)
    functional.set_step_mode(net, "m")
    return net


def containers_net() -> nn.Module:
    """``SeqToANNContainer`` (stateless layers over T·N), ``MultiStepContainer`` (single-step
    neurons run step by step) and ``StepModeContainer`` (both kinds)."""
    torch.manual_seed(12)
    net = nn.Sequential(
        layer.SeqToANNContainer(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8)),
        layer.MultiStepContainer(neuron.IFNode(v_reset=None)),
        layer.MultiStepContainer(nn.AvgPool2d(2), neuron.LIFNode(tau=3.0, decay_input=False)),
        layer.StepModeContainer(False, "m", nn.Conv2d(8, 8, 3, padding=1), nn.Flatten()),
        layer.StepModeContainer(True, "m", neuron.IFNode(v_threshold=0.8)),
        layer.SeqToANNContainer(nn.Linear(8 * 4 * 4, 10)),
        neuron.LIFNode(tau=2.0, v_reset=-0.2, step_mode="m"),
    )
    randomise_bn(net, 12)
    scale_weights(net, 3.0, 8.0, 12.0)
    return net


NETS: dict[str, Callable[[], nn.Module]] = {
    "wrappers": wrappers_net,
    "containers": containers_net,
}


def _spikes(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(T, N, *IMAGE, generator=g) < 0.4).float()


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("net_name", list(NETS))
def test_every_layer_spikes_as_spikingjelly(net_name: str, seed: int) -> None:
    net = NETS[net_name]()
    x = _spikes(seed)
    graph = capture(net, x)
    assert is_sequence(graph)
    assert graph.shapes[graph.inputs[0]] == IMAGE
    assert_trains_equal(graph, net, x, T)


def test_wrappers_capture_as_ir_ops() -> None:
    """SpikingJelly's ``Dropout``/``Dropout2d`` become IR Dropout (the identity at
    inference), not a traced-through memory module."""
    graph = capture(wrappers_net(), _spikes(0))
    assert [n.op for _, n in graph] == [
        "Input",
        "Conv2d",
        "BatchNorm",
        "IF",
        "Dropout",
        "MaxPool2d",
        "Conv2d",
        "LIF",
        "AvgPool2d",
        "Flatten",
        "Dropout",
        "Linear",
        "LIF",
    ]


def test_single_step_models_take_direct_input() -> None:
    """A net left in single-step mode takes ``[N, ...]``: its input is no sequence."""
    net = nn.Sequential(layer.Flatten(), layer.Linear(64, 10), neuron.IFNode())
    graph = capture(net, torch.rand(3, *IMAGE))
    assert not is_sequence(graph)


class CudaOnly(RuntimeError):
    """What a CuPy neuron kernel raises on a machine without a CUDA device."""


def _cupy_backend(net: nn.Module) -> list[torch.utils.hooks.RemovableHandle]:
    """Mark every neuron ``backend='cupy'`` as SpikingJelly releases before 2.0 stored it
    (``functional.set_backend(net, 'cupy')``; 2.0 picks kernels per device and dropped the
    argument), and make its forward fail as the CuPy kernel does without a GPU."""

    def refuse(m: nn.Module, args: object) -> None:
        raise CudaOnly("CuPy kernel: the input must be on a CUDA device")

    handles = []
    for m in net.modules():
        if isinstance(m, neuron.BaseNode):
            m.backend = "cupy"
            handles.append(m.register_forward_pre_hook(refuse))
    return handles


@pytest.mark.parametrize("net_name", list(NETS))
def test_cupy_backend_neurons_are_read_not_run(net_name: str) -> None:
    """Capture reads a CuPy-backend neuron's parameters and never runs its kernel; the
    captured graph spikes as the same net on SpikingJelly's torch path."""
    net = NETS[net_name]()
    x = _spikes(3)
    handles = _cupy_backend(net)
    with pytest.raises(CudaOnly):
        net(x)
    functional.reset_net(net)
    graph = capture(net, x)
    for h in handles:
        h.remove()
    assert_trains_equal(graph, net, x, T)
