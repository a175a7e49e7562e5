"""Will a simulation fit in memory? Checked before it starts, so a run that cannot finish is
one line instead of a machine swapping for minutes (issue 26: ``-T 1000000``).

An executor that can say how much memory it needs has a ``memory_estimate(batch, T)``
method returning peak bytes for batches of ``batch`` samples run for ``T`` steps (the
streaming executors of :mod:`sjconvert.exec`); :func:`check_memory` compares it with a limit,
by default the memory this machine has available. An executor without the method is not
checked.
"""

from __future__ import annotations

import os
import re
from typing import Any

from ..errors import InputError

UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """Bytes from ``"8G"``, ``"512MiB"``, ``"1.5 GB"`` or ``"1000000"`` (binary units)."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*", text.lower())
    if m is None or float(m.group(1)) <= 0:
        raise InputError(f"--max-memory takes a size such as 8G or 512M, got {text!r}")
    return int(float(m.group(1)) * UNITS[m.group(2)])


def describe_size(n: float) -> str:
    """``n`` bytes as ``"22.5 GiB"``."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def available_memory() -> int | None:
    """Bytes this machine has available now (``MemAvailable``), or None where unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(sim: Any, batch: int, T: int, limit: int | None = None) -> int | None:
    """Refuse, in one line, a run of ``sim`` on batches of ``batch`` for ``T`` steps whose
    estimated peak exceeds ``limit`` (default: the available memory). Returns the estimate
    (None: ``sim`` gives none, nothing is checked)."""
    estimate = getattr(sim, "memory_estimate", None)
    if estimate is None:
        return None
    need = int(estimate(batch, T))
    cap = limit if limit is not None else available_memory()
    if cap is not None and need > cap:
        said = "--max-memory" if limit is not None else "the memory available"
        raise InputError(
            f"simulating T={T} on batches of {batch} needs about {describe_size(need)} "
            f"(estimated), more than {said} ({describe_size(cap)}); lower -T or --batch-size"
        )
    return need
