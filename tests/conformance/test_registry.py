"""The op registry holds together: every node class gets conformance cases, every class is
run by the one interpreter, traits and registrations agree, and no file outside
``sjconvert/ir`` keeps its own tuple of node classes."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sjconvert.exec.schedule import runnable
from sjconvert.ir import nodes as ir
from sjconvert.ops import KERNELS, PROGRAMS, RATES, step_program
from sjconvert.ops.kernels import _rate_coded

from .cases import cases, node_classes

PACKAGE = Path(__file__).resolve().parents[2] / "sjconvert"
CLASSES = node_classes()


QUICK = settings(max_examples=2, database=None, deadline=None)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@QUICK
@given(data=st.data())
def test_every_node_class_gets_conformance_cases(cls, data) -> None:
    """A class none of whose generated graphs is valid must declare an example (see
    :mod:`tests.conformance.cases`): Hypothesis fails this (Unsatisfiable, or a health
    check) until it does."""
    case = data.draw(cases(cls))
    assert isinstance(case.graph.nodes["node"], cls)
    if cls.stateful:
        assert step_program(case.graph.nodes["node"]).spiking == cls.spiking


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_traits_and_registrations_agree(cls) -> None:
    assert cls in runnable(), f"{cls.__name__}: no kernel, no step program"
    assert (cls in PROGRAMS) == cls.stateful, "a stateful node runs its step program"
    assert (cls in RATES) == cls.stateful, "a stateful node has a rate model"
    if cls.stateful:
        assert (RATES[cls].fn is _rate_coded) == cls.rate_coded, "rate_coded ⇔ clamp(X/V_th)"
    else:
        assert cls in KERNELS or cls.sums, "a stateless node has a torch kernel"
    assert not cls.rate_coded or cls.spiking, "only neurons are rate coded"
    assert not cls.signed or cls.spiking
    assert not cls.spiking or cls.stateful
    assert not cls.reshapes or cls.movement
    assert not cls.movement or (cls.linear and cls.keeps_scale)
    assert not cls.adaptive or cls.pool
    assert not cls.cumulative or (cls.stateful and cls.linear)
    assert not cls.synapse or {"weight", "bias"} <= {f.name for f in dataclasses.fields(cls)}


def _imports(tree: ast.AST) -> tuple[set[str], set[str]]:
    """Names a module gives the IR's node module (``ir`` in ``from ..ir import nodes as
    ir``) and node classes it imports by name (``from ..ir.nodes import IF``)."""
    modules, classes = set(), set()
    for n in ast.walk(tree):
        if isinstance(n, ast.ImportFrom) and n.module:
            if n.module.split(".")[-1] == "ir":
                modules |= {a.asname or a.name for a in n.names if a.name == "nodes"}
            if n.module.endswith("ir.nodes") or n.module == "nodes":
                classes |= {a.asname or a.name for a in n.names if a.name in ir.NODE_TYPES}
        elif isinstance(n, ast.Import):
            modules |= {a.asname for a in n.names if a.name.endswith("ir.nodes") and a.asname}
    return modules, classes


def _annotations(tree: ast.AST) -> set[int]:
    """ids of the AST nodes inside type annotations (``node: ir.A | ir.B`` is no tuple)."""
    inside: set[int] = set()
    for n in ast.walk(tree):
        roots = []
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = [*n.args.args, *n.args.kwonlyargs, *n.args.posonlyargs]
            roots = [a.annotation for a in args if a.annotation] + [n.returns]
        elif isinstance(n, ast.AnnAssign):
            roots = [n.annotation]
        for root in roots:
            if root is not None:
                inside.update(id(x) for x in ast.walk(root))
    return inside


def _class_name(node: ast.AST, modules: set[str], classes: set[str]) -> str | None:
    if isinstance(node, ast.Attribute) and node.attr in ir.NODE_TYPES:
        base = node.value
        return node.attr if isinstance(base, ast.Name) and base.id in modules else None
    if isinstance(node, ast.Name) and node.id in classes:
        return node.id
    return None


def _members(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return list(node.elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _members(node.left) + _members(node.right)
    return [node]


def class_tuples(path: Path) -> list[tuple[int, tuple[str, ...]]]:
    """Tuples, lists, sets and ``A | B`` unions of two or more node classes in ``path``,
    outside type annotations: ``(line, class names)``."""
    tree = ast.parse(path.read_text(), str(path))
    (modules, names), skip = _imports(tree), _annotations(tree)
    found = []
    for n in ast.walk(tree):
        if id(n) in skip or not isinstance(n, (ast.Tuple, ast.List, ast.Set, ast.BinOp)):
            continue
        classes = [c for m in _members(n) if (c := _class_name(m, modules, names))]
        if len(classes) >= 2:
            found.append((n.lineno, tuple(classes)))
    return found


def test_no_tuples_of_node_classes_outside_the_ir() -> None:
    """Op kinds are traits on the node classes (``sjconvert/ir/nodes/base.py``); a file
    that lists classes instead misses the next class of that kind (a SignedIF, say)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("ir/"):
            continue
        found += [f"sjconvert/{rel}:{line}: {', '.join(c)}" for line, c in class_tuples(path)]
    assert not found, "use a trait instead of listing node classes: " + "; ".join(found)


def test_the_tuple_lint_finds_tuples(tmp_path) -> None:
    src = tmp_path / "bad.py"
    src.write_text(
        "from torch import nn\n"
        "from sjconvert.ir import nodes as ir\n"
        "from sjconvert.ir.nodes import LIF, IF as Plain\n"
        "def f(n: ir.IF | ir.LIF) -> bool:\n"
        "    return isinstance(n, (ir.IF, ir.LIF)) or isinstance(n, ir.Add | ir.Concat)\n"
        "KINDS = {ir.Conv1d, ir.Conv2d}, [Plain, LIF], (nn.Conv1d, nn.Conv2d)\n"
    )
    assert sorted(line for line, _ in class_tuples(src)) == [5, 5, 6, 6]
