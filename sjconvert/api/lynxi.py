"""The Python API behind ``sjconvert to-lynxi``: the Lynxi module of a spiking graph, built
and checked (:func:`build_lynxi`), then written as a folder (:func:`write_lynxi`:
``model.sjir``, ``lynxi.onnx``, ``lynxi.json`` and, with Lynxi's SDK, the lyngor build);
:func:`export_lynxi` does both. :func:`lynxi_checks` gives the ONNX models that
:func:`~sjconvert.api.exports.verify_exports` runs for ``--verify``."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..exec.data_layout import is_sequence
from ..ir.files import atomic_write
from ..ir.graph import Graph
from ..ir.io import save
from ..targets.lynxi import compile_lynxi, require_sdk, to_lynxi
from ..targets.onnx import require_onnx

LYNXI_FILES = ("model.sjir", "lynxi.onnx", "lynxi.json")


@dataclass
class LynxiModule:
    """A checked Lynxi module (rank ≤ 4, no in-place op) of ``graph`` for ``T`` steps, its
    ONNX export (``lynxi.onnx``) and ``lynxi.json``'s contents."""

    graph: Graph
    T: int
    dtype: str
    sequence: bool
    module: Any
    onnx: Any
    info: dict[str, Any]


def lynxi_info(snn: Graph, T: int, dtype: str, sequence: bool) -> dict[str, Any]:
    """``lynxi.json``: T, dtype, the input's name and shape (``N`` or ``T·N`` first), the
    outputs and the constraints the module was checked for."""
    shape = list(snn.shapes[snn.inputs[0]])
    return {
        "T": T,
        "dtype": dtype,
        "input": {"name": snn.inputs[0], "shape": ["T·N" if sequence else "N", *shape]},
        "outputs": list(snn.outputs),
        "rank_max": 4,
        "inplace_ops": 0,
    }


def lynxi_onnx(snn: Graph, T: int, dtype: str, sequence: bool, counts: bool = False) -> Any:
    """The Lynxi module exported to ONNX as ``lynxi.onnx`` holds it (``counts``: with the
    per-layer spike count outputs that verification reads)."""
    require_onnx(purpose="to-lynxi (it writes and checks lynxi.onnx)")
    from ..targets.onnx.export import export_unrolled

    return export_unrolled(snn, T, dtype=dtype, sequence=sequence, counts=counts)


def build_lynxi(
    snn: Graph, T: int = 4, dtype: str = "float16", sequence: bool = False
) -> LynxiModule:
    """``snn``'s Lynxi module for ``T`` steps, checked, and its ONNX export. ``sequence``
    (the default for a graph whose input is a sequence) takes a ``[T·N, ...]`` step-major
    input, else a direct ``[N, ...]`` one."""
    seq = sequence or is_sequence(snn)
    module = to_lynxi(snn, T, dtype, seq)
    model = lynxi_onnx(snn, T, dtype, seq)
    return LynxiModule(snn, T, dtype, seq, module, model, lynxi_info(snn, T, dtype, seq))


def lynxi_checks(snn: Graph, T: int, dtype: str, sequence: bool) -> dict[str, Any]:
    """The ONNX models of the Lynxi module that ``--verify`` runs: float32, and the module's
    own dtype when that is float16."""
    seq = sequence or is_sequence(snn)
    dtypes = ["float32"] + (["float16"] if dtype == "float16" else [])
    return {f"ONNX Runtime {d}": lynxi_onnx(snn, T, d, seq, counts=True) for d in dtypes}


@dataclass
class LynxiExport:
    """What :func:`write_lynxi` wrote: the folder, its files and the compiled network's
    folder (None without ``compile``)."""

    folder: Path
    files: tuple[Path, ...]
    compiled: Path | None = None


def write_lynxi(
    built: LynxiModule,
    folder: str | os.PathLike[str],
    source: Graph | None = None,
    compile: bool = False,
    batch_size: int = 256,
) -> LynxiExport:
    """Write :data:`LYNXI_FILES` into ``folder`` (created; its parent must exist):
    ``model.sjir`` (with ``source``, the ANN, beside it), ``lynxi.onnx`` and
    ``lynxi.json`` (:func:`lynxi_info`); with ``compile`` also the lyngor build in
    ``folder/compiled`` for batches of ``batch_size``. A failure leaves a new folder
    removed and an existing one's files as they were."""
    out = Path(folder)
    if compile:
        require_sdk()
    from ..targets.onnx.export import save_onnx

    files = tuple(out / name for name in LYNXI_FILES)
    snn = built.graph
    with _new_folder(out):
        save(files[0], snn, source=source)
        save_onnx(built.onnx, files[1])
        text = json.dumps(built.info, indent=2) + "\n"
        atomic_write(files[2], lambda tmp: tmp.write_text(text))
        compiled = None
        if compile:
            rows = batch_size * built.T if built.sequence else batch_size
            shape = (rows, *snn.shapes[snn.inputs[0]])
            compiled = compile_lynxi(
                built.module, out / "compiled", shape, built.dtype, snn.inputs[0]
            )
    return LynxiExport(out, files, compiled)


def export_lynxi(
    snn: Graph,
    folder: str | os.PathLike[str],
    T: int = 4,
    dtype: str = "float16",
    sequence: bool = False,
    source: Graph | None = None,
    compile: bool = False,
    batch_size: int = 256,
) -> LynxiExport:
    """:func:`build_lynxi` then :func:`write_lynxi`."""
    if compile:
        require_sdk()  # before any work: one line saying what is missing
    built = build_lynxi(snn, T, dtype, sequence)
    return write_lynxi(built, folder, source, compile, batch_size)


@contextmanager
def _new_folder(folder: Path) -> Iterator[None]:
    """Make ``folder`` (its parent must exist); if it was new and writing into it fails, it
    is removed again."""
    if not folder.parent.is_dir():
        raise InputError(f"{folder}: its folder {folder.parent} does not exist")
    created = not folder.exists()
    folder.mkdir(exist_ok=True)
    try:
        yield
    except BaseException:
        if created:
            shutil.rmtree(folder, ignore_errors=True)
        raise
