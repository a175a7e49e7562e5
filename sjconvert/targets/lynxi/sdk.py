"""Compile and load with Lynxi's SDK (``lyngor`` compiles, ``lynpy`` runs on the chip).

Both are imported only when called; without them each call fails with one line saying what
is missing and where to get it. Nothing here imitates the SDK.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

from torch import nn

from ...errors import EmitError

HOW = (
    "Lynxi's SDK ships with the Lynxi HP-series driver and toolchain (ask Lynxi for the "
    "lyngor/lynpy wheels for your card); without it, verify the exported module with "
    "`sjconvert to-lynxi ... --verify DATA` (ONNX Runtime)"
)


def _sdk(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise EmitError(f"`{name}` is not installed: {HOW}") from None


def compile_lynxi(
    module: nn.Module,
    out_dir: str | Path,
    input_shape: tuple[int, ...],
    dtype: str = "float16",
    input_name: str = "x",
) -> Path:
    """Compile ``module`` for the APU with lyngor, as SpikingJelly's Lynxi tutorial does::

        model = lyngor.DLModel(); model.load(module, model_type="Pytorch", in_type=dtype,
                                             out_type=dtype, inputs_dict={name: shape})
        lyngor.Builder(target="apu", is_map=True).build(model.graph, model.params, out_path)

    Returns the compiled network's folder (``<out>/Net_0``)."""
    lyngor = _sdk("lyngor")
    model = lyngor.DLModel()
    model.load(
        module,
        model_type="Pytorch",
        in_type=dtype,
        out_type=dtype,
        inputs_dict={input_name: tuple(input_shape)},
    )
    builder = lyngor.Builder(target="apu", is_map=True)
    out = builder.build(model.graph, model.params, out_path=str(out_dir), apu_only=True)
    return Path(out) / "Net_0"


def load_lynxi(path: str | Path, device_id: int = 0) -> Any:
    """A ``lynpy.Model`` for a compiled network folder on Lynxi device ``device_id``."""
    lynpy = _sdk("lynpy")
    return lynpy.Model(dev_id=device_id, path=str(path))


def require_sdk() -> None:
    """Raise the one-line :class:`EmitError` unless lyngor and lynpy can be imported."""
    for name in ("lyngor", "lynpy"):
        if importlib.util.find_spec(name) is None:
            raise EmitError(f"`{name}` is not installed: {HOW}")
