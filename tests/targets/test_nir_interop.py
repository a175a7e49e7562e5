"""NIR interop with real third-party producers and consumers: SpikingJelly 2.0's
``nir_exchange``, snnTorch and Norse (sinabs pins nir<=1.0.4 and is not installed).

Spikes are compared exactly: the reference simulator's running mean at every step equals
the consumer's only if the spike trains are identical."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from sjconvert.exec import Simulator
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph
from sjconvert.targets.nir import from_nir, to_nir

pytestmark = pytest.mark.interop
T = 12


def running_mean(steps: torch.Tensor) -> torch.Tensor:
    return torch.cumsum(steps, 0) / torch.arange(1, steps.shape[0] + 1).reshape(
        -1, *([1] * (steps.ndim - 1))
    )


def ours(graph: Graph, x: torch.Tensor) -> torch.Tensor:
    return Simulator(graph).run(x, T=x.shape[0], sequence=True).output


def _graph(nodes: dict[str, ir.Node], outputs: tuple[str, ...]) -> Graph:
    names = list(nodes)
    edges = {n: (names[k - 1],) if k else () for k, n in enumerate(names)}
    return Graph(nodes, edges, outputs)


def conv_net() -> Graph:
    r = np.random.default_rng(1)
    return _graph(
        {
            "x": ir.Input((2, 8, 8)),
            "c": ir.Conv2d(r.normal(size=(4, 2, 3, 3)), r.normal(size=4), 1, 1),
            "n": ir.IF(1.0, 0.0, 0.0),
            "p": ir.AvgPool2d(2, 2, 0),
            "f": ir.Flatten(1, -1),
            "l": ir.Linear(r.normal(size=(5, 64)), r.normal(size=5)),
            "n2": ir.LIF(2.0, 0.7, 0.0, True, 0.0),
        },
        ("n2",),
    )


def dense_lif(decay_input: bool, gain: float = 1.0) -> Graph:
    r = np.random.default_rng(2)
    return _graph(
        {
            "x": ir.Input((6,)),
            "l": ir.Linear(gain * r.normal(size=(8, 6)), r.normal(size=8)),
            "n": ir.LIF(2.0, 0.7, 0.0, decay_input, 0.0),
            "l2": ir.Linear(gain * r.normal(size=(3, 8)), r.normal(size=3)),
            "n2": ir.LIF(4.0, 1.0, 0.0, decay_input, 0.0),
        },
        ("n2",),
    )


def stepwise(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run a nirtorch-style module ``(x, state) -> (y, state)`` one step at a time."""
    outs, state = [], None
    with torch.no_grad():
        for t in range(x.shape[0]):
            y = net(x[t]) if state is None else net(x[t], state)
            y, state = y if isinstance(y, tuple) else (y, None)
            outs.append(y)
    return torch.stack(outs)


# --- SpikingJelly 2.0 nir_exchange ---------------------------------------------------------
def test_spikingjelly_imports_our_export() -> None:
    from spikingjelly.activation_based.nir_exchange import import_from_nir

    g, x = conv_net(), torch.rand(T, 3, 2, 8, 8) * 2
    with torch.no_grad():
        theirs, _ = import_from_nir(to_nir(g), step_mode="m")(x)
    assert theirs.sum() > 0
    assert torch.equal(ours(g, x), running_mean(theirs))


def test_spikingjelly_sums_our_residual_edges() -> None:
    """A residual Add becomes two edges into the next neuron; AvgPool1d a Conv1d."""
    from spikingjelly.activation_based.nir_exchange import import_from_nir

    r = np.random.default_rng(3)
    nodes = {
        "x": ir.Input((2, 12)),
        "c0": ir.Conv1d(r.normal(size=(4, 2, 3)), r.normal(size=4), 1, 1),
        "a": ir.IF(0.5, 0.0, 0.0),
        "c": ir.Conv1d(r.normal(size=(4, 4, 3)), None, 1, 1),
        "add": ir.Add(),
        "n": ir.IF(1.0, 0.0, 0.0),
        "p": ir.AvgPool1d(2, 2, 0),
        "n2": ir.IF(0.3, 0.0, 0.0),
    }
    edges = {
        "x": (),
        "c0": ("x",),
        "a": ("c0",),
        "c": ("a",),
        "add": ("c", "a"),
        "n": ("add",),
        "p": ("n",),
        "n2": ("p",),
    }
    g, x = Graph(nodes, edges, ("n2",)), torch.rand(T, 5, 2, 12) * 2
    exported = to_nir(g)
    assert {("a", "n"), ("c", "n")} <= set(exported.edges)
    with torch.no_grad():
        theirs, _ = import_from_nir(exported, step_mode="m")(x)
    assert theirs.sum() > 0
    assert torch.equal(ours(g, x), running_mean(theirs))


def test_we_import_spikingjelly_export() -> None:
    from spikingjelly.activation_based import functional, layer, neuron
    from spikingjelly.activation_based.nir_exchange import export_to_nir

    torch.manual_seed(0)
    net = nn.Sequential(
        layer.Conv2d(2, 4, 3, padding=1),
        neuron.IFNode(v_reset=0.0),
        layer.AvgPool2d(2),
        layer.Flatten(),
        layer.Linear(64, 5),
        neuron.LIFNode(tau=2.0, decay_input=False, v_reset=0.0, v_threshold=0.5),
    )
    functional.set_step_mode(net, "m")
    x = torch.rand(T, 3, 2, 8, 8) * 2
    with torch.no_grad():
        want = net(x)
    functional.reset_net(net)
    g = from_nir(export_to_nir(net, x))
    assert want.sum() > 0
    assert torch.equal(ours(g, x), running_mean(want))


# --- snnTorch ------------------------------------------------------------------------------
@pytest.mark.parametrize("decay_input", [False, True])
def test_snntorch_imports_our_export(decay_input: bool) -> None:
    from snntorch.import_nir import import_from_nir

    g, x = dense_lif(decay_input), torch.rand(T, 20, 6) * 2
    theirs = stepwise(import_from_nir(to_nir(g)), x)
    assert theirs.sum() > 0
    assert torch.equal(ours(g, x), running_mean(theirs))


def test_we_import_snntorch_export() -> None:
    import snntorch as snn
    import snntorch.utils
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)

    def leaky(n: int, beta: float, th: float) -> nn.Module:
        return snn.Leaky(
            beta=torch.full((n,), beta),
            threshold=torch.full((n,), th),
            reset_mechanism="zero",
            reset_delay=False,
            init_hidden=True,
        )

    net = nn.Sequential(nn.Linear(6, 8), leaky(8, 0.5, 0.7), nn.Linear(8, 3), leaky(3, 0.75, 1.0))
    x = torch.rand(T, 20, 6) * 2
    g = from_nir(export_to_nir(net, x[0], ignore_dims=[0]))
    snntorch.utils.reset(net)
    with torch.no_grad():
        want = torch.stack([net(x[t]) for t in range(T)])
    assert want.sum() > 0
    assert torch.equal(ours(g, x), running_mean(want))


# --- Norse ---------------------------------------------------------------------------------
def test_norse_imports_our_export() -> None:
    import norse.torch as norse

    g, x = dense_lif(True), torch.rand(T, 20, 6) * 2
    theirs = stepwise(norse.from_nir(to_nir(g), dt=1e-4), x)
    assert theirs.sum() > 0
    assert torch.equal(ours(g, x), running_mean(theirs))


def test_we_import_norse_export() -> None:
    """Norse's ``to_nir`` writes ``tau = dt / tau_mem_inv``: with ``dt=1`` that is NIR's
    time constant in seconds, which we read at the cells' own step of 1e-4 s."""
    import norse.torch as norse

    torch.manual_seed(0)

    def cell(tau_inv: float, th: float) -> nn.Module:
        p = norse.LIFBoxParameters(tau_mem_inv=torch.tensor(tau_inv), v_th=torch.tensor(th))
        return norse.LIFBoxCell(p, dt=1e-4)

    model = norse.SequentialState(
        nn.Linear(6, 8), cell(5000.0, 0.3), nn.Linear(8, 3), cell(2500.0, 0.2)
    )
    with torch.no_grad():
        for lin in (model[0], model[2]):
            lin.weight.mul_(4.0)
    x = torch.rand(T, 20, 6) * 2
    g = from_nir(norse.to_nir(model, torch.zeros(6), dt=1.0), dt=1e-4)
    want = stepwise(model, x)
    assert want.sum() > 0
    assert torch.equal(ours(g, x), running_mean(want))


def test_cuba_lif_both_ways_with_spikingjelly() -> None:
    """SpikingJelly's CUBALIFNode through NIR into our CubaLIF, and back."""
    from spikingjelly.activation_based import functional, layer, neuron
    from spikingjelly.activation_based.nir_exchange import export_to_nir, import_from_nir

    torch.manual_seed(0)
    net = nn.Sequential(
        layer.Linear(6, 8), neuron.CUBALIFNode(c_decay=0.5, v_decay=0.75, v_threshold=0.5)
    )
    functional.set_step_mode(net, "m")
    x = torch.rand(T, 20, 6) * 2
    with torch.no_grad():
        want = net(x)
    g = from_nir(export_to_nir(net, x))
    assert [n.op for _, n in g] == ["Input", "Linear", "CubaLIF"]
    assert want.sum() > 0
    assert torch.equal(ours(g, x), running_mean(want))
    with torch.no_grad():
        theirs, _ = import_from_nir(to_nir(g), step_mode="m")(x)
    assert torch.equal(theirs, want)
