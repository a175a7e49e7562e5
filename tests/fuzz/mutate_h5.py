"""Structural mutations of an HDF5 file (IR, NetX, NIR) through h5py: objects deleted,
renamed, swapped or replaced by links; datasets given odd values, dtypes and shapes;
attributes (JSON or not) changed — optionally followed by byte-level damage."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import h5py
import numpy as np

from .values import SCALARS, mutate_bytes, mutate_json, weird_array


def _paths(f: h5py.File) -> tuple[list[str], list[str]]:
    groups, datasets = ["/"], []
    f.visititems(lambda n, o: (groups if isinstance(o, h5py.Group) else datasets).append(n))
    return groups, datasets


def _attr(f: h5py.File, groups: list[str], r: random.Random) -> str:
    g = f[r.choice(groups)]
    keys = list(g.attrs)
    if not keys or r.random() < 0.1:
        g.attrs[r.choice(["version", "format", "op", "fields", "x"])] = r.choice(SCALARS)
        return f"attribute added on {g.name}"
    key = r.choice(keys)
    value = g.attrs[key]
    op = r.random()
    if op < 0.15:
        del g.attrs[key]
        return f"attribute {g.name}@{key} deleted"
    if isinstance(value, str) and op < 0.8:
        g.attrs[key] = mutate_json(value, r)
        return f"attribute {g.name}@{key} JSON changed"
    g.attrs[key] = r.choice([*SCALARS, "", "1", b"\xff", np.array([1, 2]), np.float64(1.0)])
    return f"attribute {g.name}@{key} replaced"


def _dataset(f: h5py.File, datasets: list[str], r: random.Random) -> str:
    path = r.choice(datasets)
    value = f[path][()]
    new = weird_array(r, value if isinstance(value, np.ndarray) else np.asarray(value))
    del f[path]
    if new.dtype.kind == "U":
        new = new.astype("S")
    f.create_dataset(path, data=new)
    return f"dataset {path} -> {new.dtype} {list(new.shape)}"


def _structure(f: h5py.File, groups: list[str], datasets: list[str], r: random.Random) -> str:
    path = r.choice([*groups[1:], *datasets] or ["/x"])
    op = r.choice(["delete", "rename", "soft", "soft-out", "junk", "group", "swap"])
    if op == "junk":
        f[r.choice(groups)].create_dataset(f"junk{r.randrange(99)}", data=weird_array(r))
        return "junk dataset added"
    if path not in f:
        return "nothing to change"
    if op == "swap" and len(datasets) > 1:
        a, b = r.sample(datasets, 2)
        va, vb = f[a][()], f[b][()]
        del f[a], f[b]
        f[a], f[b] = vb, va
        return f"datasets {a} and {b} swapped"
    parent, _, name = path.rpartition("/")
    target = r.choice([*datasets, *groups, "/nowhere"])
    del f[path]
    if op == "rename":
        f[f"{parent}/{name}_renamed"] = np.zeros(1)
    elif op == "soft":
        f[path] = h5py.SoftLink(target)
    elif op == "soft-out":
        f[path] = h5py.SoftLink("/../../etc/passwd")
    elif op == "group":
        f.create_group(path)
    return f"{op} at {path}"


def mutate_hdf5(src: Path, dst: Path, r: random.Random) -> str:
    """Write a mutant of the HDF5 file ``src`` to ``dst``; returns what was done."""
    shutil.copyfile(src, dst)
    done = []
    with h5py.File(dst, "r+") as f:
        for _ in range(r.choice([1, 1, 1, 2, 3])):
            groups, datasets = _paths(f)
            op = r.random()
            try:
                if op < 0.45:
                    done.append(_attr(f, groups, r))
                elif op < 0.75 and datasets:
                    done.append(_dataset(f, datasets, r))
                else:
                    done.append(_structure(f, groups, datasets, r))
            except (ValueError, TypeError, KeyError, OSError) as exc:  # h5py cannot store it
                done.append(f"skipped ({type(exc).__name__})")
    if r.random() < 0.2:
        data, what = mutate_bytes(dst.read_bytes(), r)
        dst.write_bytes(data)
        done.append(what)
    return "; ".join(done)
