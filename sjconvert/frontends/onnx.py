"""Import an ANN from an ONNX file (exported by another framework) as a torch module.

``onnx`` reads and checks the file, ``onnxslim`` folds constant and shape sub-graphs (the
``Shape → Gather → Concat → Reshape`` chains exporters emit for a dynamic batch, which
torch.fx cannot trace), and ``onnx2torch`` turns the graph into an fx ``GraphModule`` of
standard torch layers. sjconvert's capture then maps it to the IR like any torch model and
reports whatever it does not support. Every ONNX op onnx2torch lacks is listed at once.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from torch import nn

from ..errors import InputError, UnsupportedOpError
from .validate_onnx import read_onnx

if TYPE_CHECKING:
    import onnx

PACKAGES = ("onnx", "onnxslim", "onnx2torch")


def _missing_converters(model: onnx.ModelProto) -> list[str]:
    from onnx2torch.node_converters.registry import get_converter

    opsets = {o.domain: o.version for o in model.opset_import}
    missing = []
    for node in model.graph.node:
        try:
            get_converter(node.op_type, opsets.get(node.domain, 1), node.domain)
        except NotImplementedError:
            missing.append(f"'{node.name or node.op_type}' ({node.op_type})")
    return missing


def load_onnx(path: str | os.PathLike[str]) -> nn.Module:
    """The ONNX model at ``path`` as a torch ``GraphModule`` (eval mode), ready to capture."""
    missing = [m for m in PACKAGES if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError(
            f"reading {path} needs {', '.join(missing)}, not installed: "
            "pip install 'sjconvert[onnx]'"
        )
    import onnxslim
    from onnx2torch import convert

    p = Path(path)
    model = read_onnx(p)  # the validation step: nothing unchecked reaches the converter
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        model = onnxslim.slim(model)
    if model is None:  # onnxslim reports its own failures by returning None
        raise UnsupportedOpError(f"{p}: onnxslim could not simplify the graph")
    missing = _missing_converters(model)
    if missing:
        raise UnsupportedOpError(
            f"{p}: {len(missing)} ONNX node(s) have no torch equivalent in onnx2torch: "
            + ", ".join(missing)
        )
    try:
        module = convert(model)
    except (NotImplementedError, ValueError, KeyError) as exc:
        raise UnsupportedOpError(f"{p}: cannot convert to torch ({exc})") from None
    return module.eval()
