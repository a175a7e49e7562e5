"""A hostile-HDF5 corpus, built with h5py from a valid seed: each entry replaces one weight
dataset (or adds one object) with something that reads outside the file, loops, or
declares far more data than it holds. A ``secret.txt`` (and ``secret.h5``) beside the file
holds :data:`SECRET`, which no run may print."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

SECRET = "TOP-SECRET-TOKEN"
Edit = Callable[[h5py.File, str, Path], None]


def _weight(f: h5py.File) -> str:
    found: list[str] = []
    f.visititems(lambda n, o: found.append(n) if n.endswith("weight") else None)
    return found[0]


def _external_link(f: h5py.File, path: str, folder: Path) -> None:
    f[path] = h5py.ExternalLink(str(folder / "secret.h5"), "/data")


def _external_storage(f: h5py.File, path: str, folder: Path) -> None:
    secret = folder / "secret.txt"
    f.create_dataset(path, (secret.stat().st_size,), "u1", external=[(str(secret), 0, 1 << 20)])


def _virtual(f: h5py.File, path: str, folder: Path) -> None:
    layout = h5py.VirtualLayout((len(SECRET),), "u1")
    layout[:] = h5py.VirtualSource(str(folder / "secret.h5"), "data", (len(SECRET),))
    f.create_virtual_dataset(path, layout)


def _plugin(f: h5py.File, path: str, folder: Path) -> None:
    space = h5py.h5s.create_simple((4,))
    plist = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    plist.set_chunk((4,))
    plist.set_filter(32020, h5py.h5z.FLAG_OPTIONAL, ())
    h5py.h5d.create(f.id, path.encode(), h5py.h5t.IEEE_F32LE, space, dcpl=plist)


def _cycle(f: h5py.File, path: str, folder: Path) -> None:
    parent = path.rpartition("/")[0]
    f[path] = np.zeros(1, np.float32)
    f[f"{parent}/loop"] = f[parent]


EDITS: dict[str, Edit] = {
    "external-link": _external_link,
    "external-storage": _external_storage,
    "virtual-dataset": _virtual,
    "soft-link-out": lambda f, p, d: f.__setitem__(p, h5py.SoftLink("/../../etc/passwd")),
    "soft-link-to-group": lambda f, p, d: f.__setitem__(p, h5py.SoftLink("/")),
    "hard-link-cycle": _cycle,
    "filter-plugin": _plugin,
    "huge-sparse": lambda f, p, d: f.create_dataset(p, (10**6, 10**6), "f4", chunks=(1, 64)),
    "complex-weight": lambda f, p, d: f.create_dataset(p, data=np.ones((3, 3), np.complex64)),
    "string-weight": lambda f, p, d: f.create_dataset(p, data=np.array([b"1.0", b"2.0"])),
    "compound-weight": lambda f, p, d: f.create_dataset(
        p, data=np.zeros(2, dtype=[("a", "f4"), ("b", "i4")])
    ),
}


def secrets(folder: Path) -> None:
    """Write the files hostile entries point at."""
    (folder / "secret.txt").write_text(SECRET * 4)
    with h5py.File(folder / "secret.h5", "w") as f:
        f["data"] = np.frombuffer(SECRET.encode(), np.uint8)


def build(seed: Path, kind: str, dst: Path) -> None:
    """Write ``seed`` with the hostile edit ``kind`` to ``dst`` (secrets beside it)."""
    secrets(dst.parent)
    shutil.copyfile(seed, dst)
    with h5py.File(dst, "r+") as f:
        path = _weight(f)
        del f[path]
        EDITS[kind](f, path, dst.parent)
