"""What sjconvert supports, read from its registries (``docs/supported_ops.md`` is generated
from this by ``python -m sjconvert.api.support > docs/supported_ops.md``)."""

from __future__ import annotations

import operator

import torch
import torch.nn.functional as F

from ..frontends.builders import MODULE_BUILDERS, NAMED_BUILDERS, NEURON_CLASSES
from ..frontends.capture import SEQUENTIAL_WRAPPERS
from ..frontends.functions import FUNCTION_BUILDERS, NAMED_FUNCTIONS, PASSTHROUGH, SPLITS
from ..frontends.onnx import OP_BUILDERS
from ..ir import nodes as ir
from ..ops import KERNELS, PROGRAMS, RATES
from ..targets.registry import available_targets, load_target


def _name(target: object) -> str:
    """A stable public name (``F.relu``, ``torch.cat``, ``Tensor.view``) for a capture key."""
    if isinstance(target, str):
        return f"`Tensor.{target}`"
    name = getattr(target, "__name__", str(target))
    for prefix, module in (("F", F), ("torch", torch), ("operator", operator)):
        if not name.startswith("_") and getattr(module, name, None) is target:
            return f"`{prefix}.{name}`"
        public = (a for a in dir(module) if not a.startswith("_"))
        found = next((a for a in public if getattr(module, a, None) is target), None)
        if found:
            return f"`{prefix}.{found}`"
    return f"`{name}`"


def supported_ops_markdown() -> str:
    lines = [
        "# Supported operations",
        "",
        "Generated from the registries by `python -m sjconvert.api.support`; "
        "a test keeps it current.",
        "",
        "## Capture: torch modules → IR",
        "",
        ", ".join(f"`nn.{cls.__name__}`" for cls in MODULE_BUILDERS)
        + " (and their subclasses, e.g. SpikingJelly's step-aware `layer.*`).",
        "",
        "SpikingJelly neurons, recognised by exact class name without importing SpikingJelly: "
        + ", ".join(f"`{n}`" for n in NEURON_CLASSES)
        + " → IR `IF` / `LIF` (read, never run: any `backend`); other modules recognised by "
        "class name (SpikingJelly's, torchvision's MaxViT attention and partitions) "
        + ", ".join(f"`{n}` → `{b.op.__name__}`" for n, b in NAMED_BUILDERS.items())
        + ".",
        "",
        "SpikingJelly containers traced through to their children (folded over T·N where "
        "they fold): " + ", ".join(f"`{n}`" for n in sorted(SEQUENTIAL_WRAPPERS)) + ".",
    ]
    lines += ["", "## Capture: functions and tensor methods → IR", ""]
    lines.append(", ".join(sorted({_name(t) for t in FUNCTION_BUILDERS})))
    lines += ["", "By qualified name: " + ", ".join(f"`{n}`" for n in NAMED_FUNCTIONS) + "."]
    passed = ", ".join(sorted({_name(t) for t in PASSTHROUGH}))
    split = ", ".join(sorted({_name(t) for t in SPLITS}))
    lines += ["", f"Passed through unchanged: {passed}. Split into slices: {split}.", ""]
    lines += [
        "## ONNX import: op types → IR",
        "",
        ", ".join(f"`{op}`" for op in sorted(OP_BUILDERS))
        + " (shape arithmetic and Cast/Gather/... on constants only; a zero `Pad` only where "
        "it folds into a `Conv` or `AveragePool`; `Add`/`Sub` of a constant only into a "
        "preceding layer's bias; `Mul`/`Div` only by a constant).",
        "",
    ]
    lines += [
        "## IR nodes and the reference simulator",
        "",
        "| IR node | semantics | equation |",
        "|---|---|---|",
    ]
    for op, cls in sorted(ir.NODE_TYPES.items()):
        kernel = (
            "step program" + (" + rate model" if cls in RATES else "")
            if cls in PROGRAMS
            else "torch kernel"
            if cls in KERNELS
            else "schedule (stateful)"
            if cls.stateful
            else "schedule"
        )
        doc = " ".join((cls.__doc__ or "").split())
        lines.append(f"| {op} | {kernel} | {doc.replace('|', '/')} |")
    lines += _targets_markdown()
    return "\n".join(lines) + "\n"


def _targets_markdown() -> list[str]:
    """One table row per IR op: which targets emit it (``*`` = with conditions)."""
    tables = {t: load_target(t) for t in available_targets()}
    if not tables:
        return []
    lines = [
        "",
        "## Targets: IR nodes → emitters",
        "",
        "`yes*`: emitted with conditions on the node's parameters (the check names them).",
        "",
        "| IR node | " + " | ".join(tables) + " |",
        "|---|" + "---|" * len(tables),
    ]
    for op, cls in sorted(ir.NODE_TYPES.items()):
        cells = []
        for table in tables.values():
            entry = table.entries.get(cls)
            cells.append("" if entry is None else ("yes*" if entry.accepts else "yes"))
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    print(supported_ops_markdown(), end="")
