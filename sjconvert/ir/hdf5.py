"""Read an HDF5 file whole into plain Python values — the one way every reader (IR, NetX,
NIR) reads one — keeping everything inside the file.

HDF5 can make a reader open other files: an *external link* names an object in another
file, a dataset with *external storage* reads its bytes from any file (``/etc/passwd`` read
as a bias), a *virtual dataset* maps other files' datasets, and a filter that is not built
in is loaded as a plug-in library. :func:`read_hdf5` checks every link and dataset before
reading its data and refuses, in one line, a file with any of these, with a soft link to a
group or to nothing, with a group linked twice (a cycle), with an unreadable data type,
or with more than :data:`MAX_DATASET_BYTES` in one dataset (a small file can declare a huge
sparse or compressed one) or :data:`MAX_TOTAL_BYTES` in all. No second file is opened.

The result is a tree of :class:`H5Group` (attributes and members) whose datasets are
values as ``h5py`` gives them (arrays, NumPy scalars, bytes). Format readers validate that
tree and never touch ``h5py``: whatever libhdf5 raises on damaged bytes is raised here, as
one :class:`InputError`. (libhdf5 can also crash or hang on such bytes; the readers run in
a separate process for that, :mod:`.isolate`.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ..errors import InputError

MAX_DATASET_BYTES = 1 << 31
MAX_TOTAL_BYTES = 1 << 32
MAX_OBJECTS = 100_000
MAX_DEPTH = 64
BUILTIN_FILTERS = {
    h5py.h5z.FILTER_DEFLATE,
    h5py.h5z.FILTER_SHUFFLE,
    h5py.h5z.FILTER_FLETCHER32,
    h5py.h5z.FILTER_NBIT,
    h5py.h5z.FILTER_SCALEOFFSET,
    h5py.h5z.FILTER_LZF,
}


@dataclass
class H5Group:
    """One HDF5 group, read: its attributes and its members (groups or dataset values)."""

    attrs: dict[str, Any] = field(default_factory=dict)
    members: dict[str, Any] = field(default_factory=dict)


class Refused(Exception):
    """Something in the file that leaves it or that sjconvert will not read."""


def check_readable(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path when it names a readable regular file, else an InputError."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if not p.is_file():
        raise InputError(f"{p}: not a file")
    if not os.access(p, os.R_OK):
        raise InputError(f"{p}: not readable")
    return p


class _Reader:
    """Reads one file into :class:`H5Group` trees, refusing as it goes."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.objects = 0
        self.total = 0
        self.soft: list[tuple[H5Group, str, str, str]] = []

    def dataset(self, ds: h5py.Dataset, where: str) -> Any:
        plist = ds.id.get_create_plist()
        if plist.get_external_count():
            raise Refused(f"{where}: dataset stores its data in another file")
        if plist.get_layout() == h5py.h5d.VIRTUAL:
            raise Refused(f"{where}: virtual dataset mapping other data")
        for i in range(plist.get_nfilters()):
            if plist.get_filter(i)[0] not in BUILTIN_FILTERS:
                raise Refused(f"{where}: dataset needs filter plug-in {plist.get_filter(i)[0]}")
        size = (ds.size or 0) * ds.dtype.itemsize
        self.total += size
        if size > MAX_DATASET_BYTES or self.total > MAX_TOTAL_BYTES:
            raise Refused(f"{where}: dataset of shape {list(ds.shape)} is too large")
        return ds[()]

    def group(self, group: h5py.Group, where: str, depth: int = 0) -> H5Group:
        addr = h5py.h5o.get_info(group.id).addr
        if addr in self.seen or depth > MAX_DEPTH:
            raise Refused(f"{where or '/'}: group linked twice or nested too deep (a cycle?)")
        self.seen.add(addr)
        out = H5Group({k: group.attrs[k] for k in group.attrs})
        for name in group:
            self.objects += 1
            if self.objects > MAX_OBJECTS:
                raise Refused(f"more than {MAX_OBJECTS} objects")
            here = f"{where}/{name}"
            link = group.get(name, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise Refused(f"{here}: external link to {link.filename!r}")
            if isinstance(link, h5py.SoftLink):
                self.soft.append((out, name, here, link.path))
                continue
            obj = group[name]
            if isinstance(obj, h5py.Group):
                out.members[name] = self.group(obj, here, depth + 1)
            elif isinstance(obj, h5py.Dataset):
                out.members[name] = self.dataset(obj, here)
        return out

    def resolve(self, root: H5Group) -> None:
        """Soft links: to a dataset of this file only (a group would alias or loop)."""
        for parent, name, here, target in self.soft:
            node: Any = root if target.startswith("/") else parent
            for part in (p for p in target.split("/") if p):
                node = node.members.get(part) if isinstance(node, H5Group) else None
            if node is None or isinstance(node, H5Group):
                raise Refused(f"{here}: soft link to {target!r}, not a dataset in the file")
            parent.members[name] = node


def read_hdf5(path: str | os.PathLike[str], kind: str) -> H5Group:
    """The whole HDF5 file at ``path`` as a tree (see the module docstring); ``kind`` names
    the expected format in errors ("not an sjconvert IR file (not HDF5)")."""
    p = check_readable(path)
    try:
        f = h5py.File(p, "r")
    except (OSError, ValueError):
        raise InputError(f"{p}: not {kind} (not HDF5)") from None
    reader = _Reader()
    try:
        with f:
            root = reader.group(f, "")
            reader.resolve(root)
    except Refused as exc:
        raise InputError(f"{p}: {exc} (refused)") from None
    except Exception as exc:  # libhdf5 raises OSError, KeyError, ValueError, ... on bad bytes
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise InputError(f"{p}: corrupt HDF5 file ({type(exc).__name__}: {first})") from None
    return root


def member(group: H5Group, key: str, where: str) -> Any:
    """A member that must be present (one line naming it when absent)."""
    if key not in group.members:
        raise InputError(f"{where}: has no '{key}'")
    return group.members[key]


def as_array(value: Any, where: str) -> np.ndarray:
    """A dataset value as an array; a group in its place is refused."""
    if isinstance(value, H5Group):
        raise InputError(f"{where}: expected a dataset, found a group")
    return np.asarray(value)


def attr(group: H5Group, key: str) -> Any:
    """An attribute's value (NumPy scalars as Python values), or None when absent."""
    value = group.attrs.get(key)
    return value.item() if isinstance(value, np.generic) else value
