"""Helpers shared by the SpikingJelly parity tests (they import SpikingJelly 2.0)."""

from __future__ import annotations

import torch
from spikingjelly.activation_based import functional
from torch import nn

from sjconvert.exec.parity import reference_run
from sjconvert.frontends.builders import neuron_kind
from sjconvert.ir import Graph


def sj_forward(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """SpikingJelly's multi-step forward from a freshly reset state."""
    net.eval()
    functional.set_step_mode(net, "m")
    functional.reset_net(net)
    with torch.no_grad():
        return net(x)


def sj_spike_trains(net: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every neuron layer's spikes ``[T, N, ...]`` in SpikingJelly's forward on ``[T, N, ...]``,
    by module path; a neuron run step by step (single-step mode inside a
    ``MultiStepContainer``) has its per-step outputs stacked."""
    seen: dict[str, list[torch.Tensor]] = {}
    hooks = [
        m.register_forward_hook(lambda m, a, y, n=name: seen.setdefault(n, []).append(y))
        for name, m in net.named_modules()
        if neuron_kind(m) is not None
    ]
    try:
        sj_forward(net, x)
    finally:
        for h in hooks:
            h.remove()
    return {n: ys[0] if len(ys) == 1 else torch.stack(ys) for n, ys in seen.items()}


def assert_trains_equal(graph: Graph, net: nn.Module, x: torch.Tensor, T: int) -> None:
    """Every neuron layer fires (on some but not all steps) and spikes as SpikingJelly's."""
    want = sj_spike_trains(net, x)
    _, _, trains = reference_run(graph, x, T, trains=True)
    source = graph.meta["source"]
    got = {source[name]: torch.from_numpy(s) for name, s in trains.items()}
    assert set(got) == set(want)
    for path, spikes in want.items():
        assert 0.02 < float(spikes.mean()) < 0.98, f"{path} does not exercise its neurons"
        assert torch.equal(got[path], spikes), f"{path}: {int((got[path] != spikes).sum())} differ"


def randomise_bn(net: nn.Module, seed: int) -> None:
    """Give every BatchNorm2d non-trivial running statistics and affine parameters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.rand(c, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.5)
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.rand(c, generator=g) * 0.6)


def scale_weights(net: nn.Module, *gains: float) -> None:
    """Multiply the weights of the conv/linear layers (in order) so that every layer fires."""
    layers = [m for m in net.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert len(layers) == len(gains)
    with torch.no_grad():
        for m, gain in zip(layers, gains, strict=True):
            m.weight.mul_(gain)
            if m.bias is not None:
                m.bias.add_(0.1)
