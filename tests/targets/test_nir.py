"""NIR export and import: round trip of every exported op, refusals, lossy mappings."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import nir
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sjconvert.api import measure_lossy
from sjconvert.errors import InputError, UnsupportedOpError
from sjconvert.exec import Simulator
from sjconvert.ir import nodes as ir
from sjconvert.ir.graph import Graph
from sjconvert.targets.nir import LOSSY, from_nir, lossy, read, to_nir, write
from sjconvert.targets.registry import load_target

R = np.random.default_rng(0)


def chain(shape: tuple[int, ...], *nodes: ir.Node, out: int = -1) -> Graph:
    """``Input(shape) → nodes...``; the output is node ``out``."""
    names = ["x"] + [f"n{k}" for k in range(len(nodes))]
    all_nodes = dict(zip(names, (ir.Input(shape), *nodes), strict=True))
    edges = {n: (names[k - 1],) if k else () for k, n in enumerate(names)}
    return Graph(all_nodes, edges, (names[out],))


def _residual() -> Graph:
    w = R.normal(size=(4, 4, 3, 3)).astype(np.float32)
    nodes = {
        "x": ir.Input((4, 6, 6)),
        "a": ir.IF(0.5, 0.0, 0.0),
        "c": ir.Conv2d(w, None, 1, 1),
        "add": ir.Add(),
        "n": ir.IF(1.0, 0.0, 0.0),
    }
    edges = {"x": (), "a": ("x",), "c": ("a",), "add": ("c", "a"), "n": ("add",)}
    return Graph(nodes, edges, ("n",))


def _if() -> ir.IF:
    return ir.IF(np.array([1.0, 0.5, 2.0], np.float32), 0.0, 0.0)


# One small graph per op the NIR exporter registers (the test below checks the set).
CASES: dict[str, Callable[[], Graph]] = {
    "Input": lambda: chain((3,), ir.IF(0.7, 0.0, 0.0)),
    "Linear": lambda: chain(
        (7,), ir.Linear(R.normal(size=(5, 7)), R.normal(size=5)), ir.IF(1.0, -0.5, -0.5)
    ),
    "Conv1d": lambda: chain(
        (2, 9), ir.Conv1d(R.normal(size=(3, 2, 3)), None, 2, 1), ir.IF(1.0, 0.0, 0.0)
    ),
    "Conv2d": lambda: chain(
        (3, 8, 8),
        ir.Conv2d(R.normal(size=(4, 3, 3, 3)), R.normal(size=4), (1, 2), (1, 0)),
        ir.IF(0.8, 0.0, 0.0),
    ),
    "Flatten": lambda: chain(
        (2, 3, 3), ir.IF(0.6, 0.0, 0.0), ir.Flatten(1, -1), ir.Linear(R.normal(size=(4, 18)))
    ),
    "AvgPool1d": lambda: chain((3, 9), ir.IF(0.6, 0.0, 0.0), ir.AvgPool1d(4, 2, 1)),
    "AvgPool2d": lambda: chain((3, 8, 8), ir.IF(0.6, 0.0, 0.0), ir.AvgPool2d(2, 2, 0)),
    "Scale": lambda: chain((3, 4, 4), ir.Scale(R.uniform(0.5, 2, 3)), _if()),
    "IF": lambda: chain((3, 4, 4), _if()),
    "LIF": lambda: chain(
        (5,), ir.LIF(2.5, 0.7, 0.0, False, 0.0, 0.4), ir.LIF(3.0, 0.3, -0.1, True, -0.1)
    ),
    "CubaLIF": lambda: chain(
        (3,), ir.Linear(R.normal(size=(4, 3))), ir.CubaLIF(0.5, 0.75, 0.4, 0.0, 0.0)
    ),
    "LI": lambda: chain((4,), ir.Linear(R.normal(size=(3, 4))), ir.LI(3.0, 0.25)),
    "Threshold": lambda: chain(
        (3, 2), ir.Threshold(np.array([0.1, 0.5, 0.9], np.float32)), ir.IF(1.0, 0.0, 0.0)
    ),
    "Delay": lambda: chain((4,), ir.IF(0.5, 0.0, 0.0), ir.Delay(3), ir.IF(0.7, 0.0, 0.0)),
    "Readout": lambda: chain((6,), ir.Linear(R.normal(size=(3, 6)), None), ir.Readout()),
    "Add": _residual,
    "Identity": lambda: chain((4,), ir.Identity(), ir.IF(0.5, 0.0, 0.0)),
    "Dropout": lambda: chain((4,), ir.Dropout(0.2), ir.IF(0.5, 0.0, 0.0)),
}
BY_EDGES = (ir.Identity, ir.Dropout)  # NIR expresses these by edges: they do not come back


def same_params(a: ir.Node, b: ir.Node) -> bool:
    """Equal fields; a per-channel array equals a scalar when every channel holds it (NIR
    import collapses uniform per-channel values to scalars)."""

    def same(u: object, v: object) -> bool:
        if not isinstance(u, np.ndarray) and not isinstance(v, np.ndarray):
            return u == v
        u, v = np.asarray(u), np.asarray(v)
        if u.ndim == 0 or v.ndim == 0:
            return bool(np.all(u == v))
        return np.array_equal(u, v)

    pa, pb = a.params(), b.params()
    return type(a) is type(b) and all(same(pa[k], pb[k]) for k in pa)


def test_cases_cover_every_exported_op() -> None:
    assert set(CASES) == set(load_target("nir").ops())


@pytest.mark.parametrize("op", sorted(CASES))
def test_round_trip(op: str, tmp_path: Path) -> None:
    graph = CASES[op]()
    path = write(tmp_path / "net.nir", graph)
    back = read(path)
    want = graph.editor()
    for name, node in graph:
        if isinstance(node, BY_EDGES):
            want.remove(name)
    want = want.freeze()
    assert list(back.nodes) == list(want.nodes)
    assert dict(back.edges) == dict(want.edges) and back.outputs == want.outputs
    for name, node in want:
        assert same_params(node, back.nodes[name]), name
    x = torch.rand(4, *graph.nodes["x"].shape) * 2
    a, b = Simulator(graph).run(x, T=12), Simulator(back).run(x, T=12)
    assert a.spikes == b.spikes
    assert all(torch.equal(a.outputs[o], b.outputs[o]) for o in graph.outputs)


def test_soft_reset_and_maxpool_are_refused_by_name() -> None:
    g = chain((2, 4, 4), ir.IF(1.0, None, 0.0), ir.MaxPool2d(2, 2, 0), ir.IF(1.0, 0.0, 0.5))
    with pytest.raises(UnsupportedOpError) as e:
        to_nir(g)
    msg = str(e.value)
    assert "'n0'" in msg and "soft-reset-as-hard" in msg
    assert "'n1'" in msg and "maxpool-as-avgpool" in msg
    assert "'n2'" in msg and "v-init-as-reset" in msg


def test_other_unsupported_ops_are_listed_together() -> None:
    g = chain((4,), ir.ReLU(), ir.Softmax(1))
    with pytest.raises(UnsupportedOpError, match=r"2 node.*'n0'.*ReLU.*'n1'.*Softmax"):
        to_nir(g)


def test_lossy_mapping_is_what_the_file_holds(tmp_path: Path) -> None:
    g = chain((2, 4, 4), ir.IF(1.0, None, 0.5), ir.MaxPool2d(2, 2, 0), ir.Flatten(1, -1))
    names = list(LOSSY)
    mapped, changed = lossy.apply(g, names)
    assert changed == {
        "soft-reset-as-hard": ["n0"],
        "v-init-as-reset": ["n0"],
        "maxpool-as-avgpool": ["n1"],
    }
    back = read(write(tmp_path / "lossy.nir", g, lossy=names))
    x = torch.rand(3, 2, 4, 4) * 3
    assert torch.equal(Simulator(back).run(x, T=9).output, Simulator(mapped).run(x, T=9).output)
    assert not torch.equal(Simulator(g).run(x, T=9).output, Simulator(mapped).run(x, T=9).output)


def test_lossy_measurement_reports_both_accuracies() -> None:
    w = np.eye(3, dtype=np.float32)
    g = chain((3,), ir.Linear(w * 0.7), ir.IF(1.0, None, 0.0), ir.Linear(w), ir.Readout())
    mapped, _ = lossy.apply(g, ["soft-reset-as-hard"])
    x = torch.tensor([[1.0, 0.2, 0.1], [0.1, 0.2, 1.0], [0.3, 0.9, 0.6]])
    y = torch.tensor([0, 2, 1])
    rep = measure_lossy(g, mapped, [(x, y)], [4, 16])
    assert rep.samples == 3 and set(rep.before) == {4, 16}
    assert rep.before[16] == 1.0
    assert len(rep.lines()) == 2 and "->" in rep.lines()[0]


def test_unknown_lossy_name_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown lossy"):
        to_nir(chain((3,), ir.IF(1.0, 0.0, 0.0)), lossy=["drop-everything"])


def test_failed_export_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedOpError):
        write(tmp_path / "x.nir", chain((3,), ir.IF(1.0, None, 0.0)))
    assert list(tmp_path.iterdir()) == []


def _nir_graph(*middle: nir.NIRNode, shape: tuple[int, ...] = (3,)) -> nir.NIRGraph:
    names = ["in"] + [f"m{k}" for k in range(len(middle))] + ["out"]
    nodes = dict(
        zip(names, (nir.Input(np.array(shape)), *middle, nir.Output(np.array(shape))), strict=True)
    )
    return nir.NIRGraph(nodes, list(itertools.pairwise(names)), type_check=False)


def test_import_refuses_what_the_ir_cannot_hold() -> None:
    ones = np.ones(3)
    g = _nir_graph(
        nir.CubaLI(ones, ones, ones, 0 * ones),
        nir.Delay(1.5e-4 * ones),
        nir.LIF(4e-4 * ones, ones, 0.5 * ones, ones),
    )
    with pytest.raises(UnsupportedOpError) as e:
        from_nir(g)
    assert "3 NIR node" in str(e.value)
    assert "'m0' (CubaLI): no IR equivalent" in str(e.value)
    assert "'m1' (Delay): delay of 1.5 steps" in str(e.value)
    assert "'m2' (LIF): LIF with v_leak != v_reset" in str(e.value)


def test_import_refuses_recurrent_graphs() -> None:
    g = _nir_graph(nir.Linear(np.eye(3)), nir.IF(1e4 * np.ones(3), np.ones(3)))
    g.edges.append(("m1", "m0"))
    with pytest.raises(UnsupportedOpError, match="recurrent"):
        from_nir(g)


def test_import_input_weight_becomes_a_scale() -> None:
    """NIR IF with ``r·dt = 2`` integrates twice the input: a Scale(2) before the IR IF."""
    g = from_nir(_nir_graph(nir.IF(2e4 * np.ones(3), np.ones(3))))
    assert [n.op for _, n in g] == ["Input", "Scale", "IF"]
    assert float(g.nodes["m0_scale"].factor) == pytest.approx(2.0)


def test_import_sumpool_is_avgpool_times_window() -> None:
    g = from_nir(
        _nir_graph(
            nir.SumPool2d(np.array([2, 2]), np.array([2, 2]), np.array([0, 0])), shape=(1, 4, 4)
        )
    )
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    got = Simulator(g).rate(x)[g.outputs[0]]
    assert torch.equal(got, torch.tensor([[[[10.0, 18.0], [42.0, 50.0]]]]))


@st.composite
def dense_chains(draw: st.DrawFn) -> Graph:
    """Random vector networks: synapses, neurons of every kind, scales, delays, thresholds."""
    r = np.random.default_rng(draw(st.integers(0, 2**16)))
    n, layers = draw(st.integers(1, 4)), []
    for _ in range(draw(st.integers(1, 4))):
        m = draw(st.integers(1, 4))
        layers.append(
            ir.Linear(r.normal(size=(m, n)), r.normal(size=m) if r.random() < 0.5 else None)
        )
        n = m
        th = float(draw(st.floats(0.1, 2.0)))
        layers.append(
            draw(
                st.sampled_from(
                    [
                        ir.IF(th, 0.0, 0.0),
                        ir.LIF(float(draw(st.floats(1.0, 8.0))), th, 0.0, draw(st.booleans()), 0.0),
                        ir.CubaLIF(float(draw(st.floats(0.0, 0.9))), 0.5, th, 0.0, 0.0),
                        ir.Scale(r.uniform(0.5, 2.0, n).astype(np.float32)),
                        ir.Delay(draw(st.integers(0, 3))),
                        ir.Threshold(th),
                    ]
                )
            )
        )
    return chain((layers[0].weight.shape[1],), *layers)


@settings(max_examples=30, deadline=None)
@given(dense_chains())
def test_random_chains_round_trip(graph: Graph) -> None:
    back = from_nir(to_nir(graph))
    assert list(back.nodes) == list(graph.nodes) and back.outputs == graph.outputs
    for name, node in graph:
        assert same_params(node, back.nodes[name]), name
    x = torch.rand(5, *graph.nodes["x"].shape) * 2
    a, b = Simulator(graph).run(x, T=8), Simulator(back).run(x, T=8)
    assert a.spikes == b.spikes and torch.equal(a.output, b.output)
