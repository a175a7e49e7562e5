"""The one check every command makes of its outputs before it does any work.

An output (``-o``) may not be, or resolve to, any of the command's inputs — the same path,
``../`` spellings of it, a symbolic link to it or a hard link of it — so no command can
replace the file it reads (``to-onnx m.sjir -o m.sjir``, ``ann2snn --calib X -o X``). A
file output must also be writable where it points (:func:`sjconvert.ir.files.output_path`:
not a folder, its folder exists); a folder output (``to-lynxi``) must not be a file, and a
new one is made only inside an existing folder (as every file output). Existing outputs are
replaced, atomically (``docs/ir_format.md``, "Writing files").
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ..errors import InputError
from ..ir.files import output_path


def _existing(specs: Iterable[str | os.PathLike[str] | None]) -> list[Path]:
    """The inputs that name files (a ``package.module:function`` spec does not)."""
    out = []
    for spec in specs:
        if spec is not None and Path(spec).exists():
            out.append(Path(spec))
    return out


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_outputs(
    outputs: Iterable[Path],
    inputs: Iterable[str | os.PathLike[str] | None],
    folder: Path | None = None,
) -> None:
    """Refuse, in one line, outputs that are an input or cannot be written (see the module
    docstring). ``folder`` is a folder output whose files are ``outputs``."""
    if folder is not None and folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: exists and is not a folder")
    if folder is not None and not folder.exists():
        output_path(folder)  # a new folder goes into an existing, writable one
    sources = _existing(inputs)
    for out in outputs:
        if folder is None:
            output_path(out)
        for src in sources:
            if _same(out, src):
                raise InputError(
                    f"{out}: is the input {src}; writing it would destroy the input "
                    "(choose another output with -o)"
                )
