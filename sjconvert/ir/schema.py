"""What an IR file's values must be before a node or graph is built from them.

Node fields are checked generically against their dataclass annotations (``float``,
``int``, ``bool``, ``tuple[int, ...]``, ``X | None``; per-channel ``Any`` fields take a
number), so a weight stored as strings, a stride stored as text or a boolean stored as a
number is refused by name instead of reaching a kernel. ``meta`` keys that commands read
back (module paths, normalisation λ, dropped outputs, ...) have their types checked the
same way; other keys are kept as they are.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
import typing
from collections.abc import Callable
from typing import Any, Union

import numpy as np

from .nodes import Node

MAX_INT = 2**31 - 1
MAX_ELEMENTS = 2**31  # per-sample values of one node (shapes beyond this cannot run)
ARRAY_KINDS = "biuf"  # bool, signed, unsigned, float (no complex, strings or objects)


class SchemaError(ValueError):
    """A value of an IR file that does not have the type or range it must have."""


def is_number(value: Any) -> bool:
    """A finite real JSON number (``bool`` is not one)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) <= 3.4e38
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_INT


def fits(value: Any, hint: Any) -> bool:
    """True when the JSON ``value`` has the type the annotation ``hint`` names."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return any(fits(value, a) for a in args)
    if origin is tuple:
        return isinstance(value, list) and all(fits(v, args[0]) for v in value)
    simple = {
        type(None): lambda v: v is None,
        bool: lambda v: isinstance(v, bool),
        int: _is_int,
        float: is_number,
        Any: is_number,  # a per-channel field: a scalar (arrays are datasets)
    }
    check = simple.get(hint)
    return check is not None and check(value)


@functools.cache
def field_kinds(cls: type[Node]) -> tuple[dict[str, Any], frozenset[str]]:
    """``({plain field: annotation}, {fields that may be datasets})`` of a node class."""
    hints = typing.get_type_hints(cls)
    plain, arrays = {}, set()
    for f in dataclasses.fields(cls):
        plain[f.name] = hints[f.name]
        if f.metadata.get("array") or f.metadata.get("per_channel"):
            arrays.add(f.name)
    return plain, frozenset(arrays)


def check_fields(cls: type[Node], fields: Any, datasets: dict[str, np.ndarray]) -> None:
    """Raise SchemaError unless ``fields`` (the JSON object) and ``datasets`` fit ``cls``."""
    if not isinstance(fields, dict):
        raise SchemaError(f"fields must be a JSON object, got {type(fields).__name__}")
    plain, arrays = field_kinds(cls)
    for name, value in fields.items():
        if name not in plain:
            raise SchemaError(f"unknown field {name!r} (fields: {', '.join(plain) or 'none'})")
        if not fits(value, plain[name]):
            want = str(plain[name]).replace("typing.", "")
            raise SchemaError(f"field {name!r} = {value!r} is not a valid {want}")
    for name, arr in datasets.items():
        if name not in arrays:
            raise SchemaError(f"dataset {name!r} is not an array field of {cls.__name__}")
        if name in fields:
            raise SchemaError(f"field {name!r} is stored twice (attribute and dataset)")
        if arr.dtype.kind not in ARRAY_KINDS:
            raise SchemaError(f"dataset {name!r} holds {arr.dtype} values, not real numbers")


def check_shape(value: Any) -> tuple[int, ...]:
    """A recorded per-sample shape: positive integers (``[]`` = not recorded)."""
    if not isinstance(value, list) or not all(_is_int(v) and v >= 1 for v in value):
        raise SchemaError(f"shape {value!r} is not a list of positive integers")
    if math.prod(value) > MAX_ELEMENTS:
        raise SchemaError(f"shape {value} has more than {MAX_ELEMENTS} values per sample")
    return tuple(value)


def parse_json(text: Any, want: type, what: str) -> Any:
    """A JSON attribute's value, which must be a ``want`` (list or dict)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        raise SchemaError(f"{what} must be a JSON string, got {type(text).__name__}")
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise SchemaError(f"{what} is not valid JSON ({exc})") from None
    if not isinstance(value, want):
        raise SchemaError(f"{what} must be a JSON {want.__name__}, got {type(value).__name__}")
    return value


def names(value: Any, what: str) -> tuple[str, ...]:
    """A JSON list of node names."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SchemaError(f"{what} must be a list of node names, got {value!r}")
    return tuple(value)


def _lambda_ok(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value) and all(is_number(v) for v in value)
    return is_number(value)


def _normalisation_ok(norm: dict[str, Any]) -> bool:
    lam, target = norm.get("lambda", {}), norm.get("target_T")
    return (
        isinstance(lam, dict)
        and all(_lambda_ok(v) for v in lam.values())
        and (target in (None, "any") or (_is_int(target) and target >= 1))
    )


def _always(value: Any) -> bool:
    return True


META_RULES: dict[str, tuple[type, Callable[[Any], bool], str]] = {
    "source": (dict, lambda v: all(isinstance(s, str) for s in v.values()), "module paths"),
    "dropped": (list, lambda v: all(isinstance(s, str) for s in v), "a list of names"),
    "maxpool": (str, _always, "a policy name"),
    "lead_axes": (int, _is_int, "an integer"),
    "normalisation": (
        dict,
        _normalisation_ok,
        "λ per node and a target_T (positive, 'any' or null)",
    ),
    "calibration": (dict, _always, "an object"),
    "nir": (dict, _always, "an object"),
    "loihi": (dict, _always, "an object"),
}


def check_meta(meta: dict[str, Any]) -> None:
    """The ``meta`` keys commands read back must have the types they are read as."""
    for key, (want, ok, what) in META_RULES.items():
        value = meta.get(key)
        if key in meta and (
            not isinstance(value, want) or isinstance(value, bool) or not ok(value)
        ):
            raise SchemaError(f"meta {key!r} must hold {what}, got {str(value)[:80]}")
