"""The report of :func:`sjconvert.parity`: one row per backend and T, one JSON schema, and
the requirements that turn it into a CI gate (``spikes=1.0,predictions=0.999``, or
``loihi.predictions=0.9`` for one backend)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from ..exec.parity import Agreement

SCHEMA = "sjconvert.parity/1"
BACKENDS = (
    "torch",
    "numpy",
    "cupy",
    "onnx-unrolled",
    "onnx-step",
    "lynxi",
    "lynxi-onnx",
    "nir",
    "loihi",
    "lava",
)
# requirement name -> (Agreement field, "min" (at least) or "max" (at most))
METRICS = {
    "spikes": ("spike_count_agreement", "min"),
    "predictions": ("prediction_agreement", "min"),
    "rate_error": ("max_rate_error", "max"),
}


@dataclass
class Row:
    """One backend at one T."""

    backend: str
    steps: int  # T
    status: str  # ok, skipped, unsupported, failed
    against: str = "torch reference"
    reason: str = ""
    agreement: Agreement | None = None
    seconds: float = 0.0
    prepare_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "backend": self.backend,
            "T": self.steps,
            "status": self.status,
            "against": self.against,
            "reason": self.reason,
            "seconds": self.seconds,
            "prepare_seconds": self.prepare_seconds,
        }
        return out | (self.agreement.to_dict() if self.agreement else {})


@dataclass
class ParityReport:
    """Every row, the requirements checked and the ones that failed."""

    steps: list[int]
    samples: int
    labelled: bool
    ann_accuracy: float | None
    rows: list[Row]
    requirements: dict[str, float] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    neurons: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "T": self.steps,
            "samples": self.samples,
            "labelled": self.labelled,
            "ann_accuracy": self.ann_accuracy,
            "requirements": self.requirements,
            "passed": self.passed,
            "failures": self.failures,
            "neurons_per_layer": self.neurons,
            "rows": [r.to_dict() for r in self.rows],
        }


def parse_requirements(spec: str | dict[str, float] | None) -> dict[str, float]:
    """``"spikes=1.0,predictions=0.999,loihi.predictions=0.9"`` as a dict; names are the
    keys of :data:`METRICS`, optionally prefixed by a backend."""
    if spec is None:
        return {}
    items = spec.items() if isinstance(spec, dict) else _pairs(spec)
    out = {}
    for key, value in items:
        backend, _, metric = key.rpartition(".")
        if metric not in METRICS or (backend and backend not in BACKENDS):
            raise InputError(
                f"unknown requirement {key!r}: use {', '.join(METRICS)}, optionally as "
                f"BACKEND.NAME with a backend among {', '.join(BACKENDS)}"
            )
        out[key] = float(value)
    return out


def _pairs(spec: str) -> list[tuple[str, str]]:
    pairs = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = part.partition("=")
        try:
            float(value)
        except ValueError:
            raise InputError(f"requirement {part!r} is not NAME=NUMBER") from None
        if not sep:
            raise InputError(f"requirement {part!r} is not NAME=NUMBER")
        pairs.append((key.strip(), value))
    return pairs


def check(rows: Iterable[Row], requirements: dict[str, float]) -> list[str]:
    """One line per requirement a row misses, and per row that failed to run."""
    failures = []
    for row in rows:
        label = f"{row.backend} T={row.steps}"
        if row.status == "failed":
            failures.append(f"{label}: failed: {row.reason}")
        if row.agreement is None:
            continue
        for metric, (attr, kind) in METRICS.items():
            limit = requirements.get(f"{row.backend}.{metric}", requirements.get(metric))
            value = getattr(row.agreement, attr)
            if limit is None or value is None:
                continue
            if (value < limit) if kind == "min" else (value > limit):
                word = "below" if kind == "min" else "above"
                failures.append(f"{label}: {metric} {value:.6g} {word} {limit:g}")
    return failures
