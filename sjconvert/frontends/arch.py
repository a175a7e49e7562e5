"""``--arch package.module:factory(arg, key=value)``: a model factory named with literal
arguments, parsed with :mod:`ast` and never run as code."""

from __future__ import annotations

import ast
from typing import Any

from ..errors import InputError


def _literal(node: ast.expr, spec: str) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise InputError(
            f"--arch {spec}: argument {ast.unparse(node)} is not a literal "
            "(numbers, strings, booleans, None, and tuples/lists/dicts of them)"
        ) from None


def parse_arch(spec: str) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """``package.module:factory(arg, key=value)`` as ``("package.module:factory", args,
    kwargs)``; the arguments must be Python literals (parsed with :mod:`ast`, never run)."""
    mod, sep, rest = spec.partition(":")
    if not sep or "(" not in rest:
        return spec, (), {}
    try:
        tree = ast.parse(rest.strip(), mode="eval").body
    except SyntaxError as exc:
        raise InputError(f"--arch {spec}: not a call with arguments ({exc.msg})") from None
    if not isinstance(tree, ast.Call) or not _dotted(tree.func):
        raise InputError(f"--arch {spec}: expected package.module:name(arguments)")
    if any(isinstance(a, ast.Starred) for a in tree.args) or any(
        k.arg is None for k in tree.keywords
    ):
        raise InputError(f"--arch {spec}: *args and **kwargs are not accepted")
    args = tuple(_literal(a, spec) for a in tree.args)
    kwargs = {str(k.arg): _literal(k.value, spec) for k in tree.keywords}
    return f"{mod}:{ast.unparse(tree.func)}", args, kwargs


def _dotted(node: ast.expr) -> bool:
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)
