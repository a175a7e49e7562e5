"""Every node capture cannot map, reported at once in one short line: the op kinds with a
count per kind (and the reason where there is one), and where they are — each place when
there are few, the first one when there are many::

    EfficientNet: cannot capture 16 SiLU, 16 Sigmoid, 16 mul (squeeze-and-excitation);
    first at features.0.2 (SiLU)
"""

from __future__ import annotations

from dataclasses import dataclass

NO_MAPPING = ""
LIST_AT_MOST = 4  # problems named one by one up to this many


@dataclass(frozen=True)
class Problem:
    """One node capture cannot map: its op ``kind`` (module class or call name), the
    ``reason`` (empty: the IR has no such op) and ``where`` (module path or node name)."""

    kind: str
    reason: str
    where: str


PARAMETER = "parameter"  # a parameter read as a tensor, reported only if nothing else is


def report(model: str, problems: list[Problem]) -> str:
    """The one-line refusal for ``problems`` (in graph order) of ``model``. Parameters read
    as tensors are left out when the calls reading them are refused anyway."""
    ops = [p for p in problems if p.kind != PARAMETER]
    problems = ops or problems
    groups: dict[tuple[str, str], int] = {}
    for p in problems:
        groups[(p.kind, p.reason)] = groups.get((p.kind, p.reason), 0) + 1
    kinds = ", ".join(
        f"{n} {kind}" + (f" ({reason})" if reason else "") for (kind, reason), n in groups.items()
    )
    if len(problems) <= LIST_AT_MOST:
        at = "at " + ", ".join(f"{p.where} ({p.kind})" for p in problems)
    else:
        at = f"first at {problems[0].where} ({problems[0].kind})"
    hint = (
        " — no IR equivalent (rate coding expresses ReLU-family activations; see "
        "docs/supported_ops.md, or add a builder to sjconvert.frontends.builders)"
        if any(p.reason == NO_MAPPING for p in problems)
        else ""
    )
    return f"{model}: cannot capture {kinds}; {at}{hint}"
