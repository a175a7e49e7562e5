"""Hostile values for the mutators: odd scalars, JSON, arrays, and byte-level damage."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import numpy as np

SCALARS: list[Any] = [
    0,
    -1,
    1,
    3,
    2**40,
    -(2**62),
    0.5,
    -0.5,
    math.nan,
    math.inf,
    -math.inf,
    1e300,
    -1e300,
    1e-45,
    True,
    False,
]
JSON_VALUES: list[Any] = [
    *SCALARS,
    None,
    "",
    "x",
    "1",
    "conv",
    [],
    {},
    [1, 2],
    [0],
    [-1, 3],
    {"a": 1},
    [[1]],
    ["a", "b"],
    2**70,
]
GARBAGE_JSON = ["", "{", "null", "[]", "{}", "1", '"x"', "[1,", "NaN", "\x7f\xfe", "[[[[[["]
DTYPES = [np.float16, np.float64, np.int8, np.int64, np.uint8, np.bool_, np.complex64]


def weird_array(r: random.Random, like: np.ndarray | None = None) -> np.ndarray:
    """An array that is wrong in one way: dtype, values, shape, or just random."""
    base = np.asarray(like) if like is not None and np.asarray(like).dtype.kind in "biuf" else None
    if base is not None and base.size and r.random() < 0.7:
        arr = base.astype(np.float64)
        op = r.choice(["dtype", "nan", "inf", "neg", "huge", "zero", "flat", "trim", "axis", "T"])
        if op == "dtype":
            return base.astype(r.choice(DTYPES))
        if op in ("nan", "inf"):
            arr.reshape(-1)[r.randrange(arr.size)] = math.nan if op == "nan" else math.inf
            return arr.astype(base.dtype) if base.dtype.kind == "f" else arr
        if op == "neg":
            return -np.abs(arr).astype(base.dtype)
        if op == "huge":
            return arr * 1e300
        if op == "zero":
            return np.zeros_like(base)
        if op == "flat":
            return base.reshape(-1)
        if op == "trim":
            return base[..., :-1] if base.ndim else base
        if op == "axis":
            return base[None]
        return base.T
    choice = r.randrange(6)
    if choice == 0:
        return np.zeros((0,), np.float32)
    if choice == 1:
        return np.asarray(r.choice([s for s in SCALARS if not isinstance(s, bool)]))
    if choice == 2:
        return np.array([b"a", b"bc"])
    if choice == 3:
        return np.ones((2, 2), np.complex64)
    shape = tuple(r.randrange(0, 5) for _ in range(r.randrange(1, 5)))
    return np.asarray(np.random.default_rng(r.randrange(1 << 30)).normal(size=shape), np.float32)


def mutate_json(text: Any, r: random.Random) -> str:
    """Parse ``text`` as JSON and change one thing deep inside (or return garbage)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return r.choice(GARBAGE_JSON)
    if r.random() < 0.1:
        return r.choice(GARBAGE_JSON)
    slots: list[tuple[Any, Any]] = []

    def collect(v: Any) -> None:
        items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
        for k, sub in items:
            slots.append((v, k))
            collect(sub)

    collect(value)
    if not slots:
        return json.dumps(r.choice(JSON_VALUES))
    container, key = r.choice(slots)
    op = r.random()
    if op < 0.55:
        container[key] = r.choice(JSON_VALUES)
    elif op < 0.75:
        del container[key]
    elif op < 0.9:
        container[key] = [container[key]]
    elif isinstance(container, dict):
        container[f"{key}_x"] = container.pop(key)
    else:
        container.append(container[key])
    return json.dumps(value)


def mutate_bytes(data: bytes, r: random.Random) -> tuple[bytes, str]:
    """Byte-level damage: flips, truncation, zeroed or inserted runs, or nothing at all."""
    b = bytearray(data)
    op = r.choice(["flip", "flip", "flip", "truncate", "zero", "insert", "empty"])
    if op == "empty" or not b:
        return b"", "empty file"
    if op == "flip":
        n = r.randint(1, 16)
        for _ in range(n):
            pos = r.randrange(len(b)) if r.random() < 0.5 else r.randrange(min(len(b), 4096))
            b[pos] = r.randrange(256)
        return bytes(b), f"{n} bytes flipped"
    if op == "truncate":
        n = r.randrange(len(b))
        return bytes(b[:n]), f"truncated to {n} bytes"
    start = r.randrange(len(b))
    n = r.randint(1, 512)
    if op == "zero":
        b[start : start + n] = bytes(len(b[start : start + n]))
        return bytes(b), f"{n} bytes zeroed at {start}"
    b[start:start] = bytes(r.randrange(256) for _ in range(n))
    return bytes(b), f"{n} bytes inserted at {start}"
