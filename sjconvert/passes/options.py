"""The options of a conversion, declared once: :class:`ConversionOptions`.

Each option is one dataclass field with its default and help text (:func:`option`). The
Python API (``sjconvert.ann2snn(..., mode="max")``), the command line (``sjconvert ann2snn
--mode max``: its options are generated from these fields by :mod:`sjconvert.cli.options`),
the ``--help`` text, the README's option table and the passes (:func:`check_neuron`, the
layer-wise ``Setting``) all read them from here, and the object validates itself when it
is made, so an invalid combination never reaches a pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import InputError
from .calibrate import parse_mode
from .pools import MAXPOOL_OPTIONS

NEURONS = ("signed", "if")
GRANULARITIES = ("channel", "layer")
DEFAULT_BURST = 4
DEFAULT_BIPOLAR_BURST = 16  # docs/transformers.md, "Burst size"
DEFAULT_BIPOLAR_HEADROOM = 4  # docs/transformers.md, "Headroom"
CALIB_STEPS = 4  # docs/low_t.md, "Calibration steps": 8 cost twice as much for the same accuracy
ANY_T = "any"


def option(
    default: Any,
    help: str,
    *,
    flags: tuple[str, ...] = (),
    choices: tuple[str, ...] = (),
    parse: Callable[[str], Any] | None = None,
    cli_type: type | None = None,
    shown_default: str | None = None,
) -> Any:
    """A :class:`ConversionOptions` field: its default and help text, and how the command line
    spells it (``flags``, default ``--field-name``), the values it takes (``choices``), how
    it parses the command line's text (``parse``, with ``cli_type`` its type there), and the
    default ``--help`` shows where it is not the value itself (``shown_default``)."""
    meta = {
        "help": help,
        "flags": flags,
        "choices": choices,
        "parse": parse,
        "cli_type": cli_type,
        "shown_default": shown_default,
    }
    return field(default=default, metadata=meta)


def parse_T(text: str) -> int | str | None:
    """The command line's ``-T``: ``any`` (every T), ``N`` (one T) or ``0`` (no layer
    calibration: ``None``)."""
    if text.strip() == ANY_T:
        return ANY_T
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"-T takes 'any' or a non-negative integer, got {text!r}") from None
    if value < 0:
        raise InputError(f"-T takes 'any' or a non-negative integer, got {text!r}")
    return value or None


def check_neuron(neuron: str, burst: int) -> None:
    """The neuron and its burst size: ``signed`` with bursts of ``burst >= 1`` spikes per
    step, or ``if`` (one spike per step)."""
    if neuron not in NEURONS:
        raise InputError(f"neuron {neuron!r} unknown; use one of {', '.join(NEURONS)}")
    if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
        raise InputError(f"burst must be an integer >= 1, got {burst!r}")
    if burst > 1 and neuron != "signed":
        raise InputError(f"bursts of {burst} spikes need signed neurons (--neuron signed)")


@dataclass(frozen=True)
class ConversionOptions:
    """Every option of :func:`sjconvert.ann2snn` (and ``sjconvert ann2snn``), validated.

    ``T`` is ``"any"`` (calibrate for every T from 1 to 64), a positive ``int`` (for that T
    alone) or ``None`` (the plain conversion of Rueckauer et al. 2017, ``mode`` alone).
    ``burst`` None takes the neuron's default (:attr:`max_spikes`: 4 for signed neurons, 1
    for IF). Make a changed copy with :meth:`replace`; :meth:`to_dict` gives the effective
    values (what ``--json`` reports)."""

    mode: str | float = option(
        "99.9%", "Normalisation: max, a percentile such as 99.9%, or a scale in (0, 1]."
    )
    maxpool: str = option(
        "cumulative",
        "Max pooling: cumulative (pool the current before the neuron, over cumulative values "
        "where it is spike-driven), pre (the per-step current), error (refuse), avg (average "
        "pooling instead), spike (max over spikes).",
        choices=MAXPOOL_OPTIONS,
    )
    spiking_output: bool = option(
        False, "Make the last layer spike instead of integrating (membrane readout)."
    )
    T: int | str | None = option(
        ANY_T,
        "Target time steps: 'any' calibrates for every T from 1 to 64; N for T=N alone; 0 "
        "for the plain rate-norm conversion (no layer calibration).",
        flags=("-T", "--T"),
        parse=parse_T,
        cli_type=str,
    )
    neuron: str = option(
        "signed", "Neuron: signed (negative spikes take back over-firing) or if.", choices=NEURONS
    )
    burst: int | None = option(
        None,
        "Most spikes a signed neuron emits in one step.",
        cli_type=int,
        shown_default=f"{DEFAULT_BURST} for signed neurons, 1 for if",
    )
    granularity: str = option(
        "channel", "Normalisation per channel or per layer.", choices=GRANULARITIES
    )
    v_init: float = option(
        0.5, "Initial membrane as a fraction of the threshold (0.5: half), in [0, 1)."
    )
    search: bool = option(False, "Search each layer's threshold scale against the ANN.")
    bias: bool = option(False, "Fit a per-step bias (an input shift at every t) per channel.")
    v_search: bool = option(
        True, "Fit each channel's initial membrane (a correction fading with t)."
    )
    refine_samples: int = option(512, "Calibration samples used for layer calibration.")
    calib_steps: int = option(
        CALIB_STEPS, "Steps simulated by the layer calibration (with -T any)."
    )
    bipolar_burst: int = option(
        DEFAULT_BIPOLAR_BURST,
        "Spikes per step for its calibrated scale of a bipolar neuron, which carries a value "
        "read from a non-spiking op (GELU, LayerNorm, attention) to the next synapse.",
    )
    bipolar_headroom: int = option(
        DEFAULT_BIPOLAR_HEADROOM,
        "Range of a bipolar neuron in units of its calibrated scale: it fires up to "
        "bipolar-burst x bipolar-headroom spikes per step, so values above the scale pass "
        "instead of being clipped.",
    )
    bipolar_mode: str | float | None = option(
        None,
        "Normalisation of bipolar neurons (as --mode, on |x|).",
        cli_type=str,
        shown_default="--mode",
    )

    def __post_init__(self) -> None:
        parse_mode(self.mode)
        _one_of("maxpool", self.maxpool, MAXPOOL_OPTIONS)
        _one_of("granularity", self.granularity, GRANULARITIES)
        check_neuron(self.neuron, self.max_spikes)
        T = self.T
        if T is not None and T != ANY_T and (isinstance(T, (str, bool)) or T < 1):
            raise InputError(f"target T must be 'any', a positive integer or None, got {T!r}")
        if isinstance(self.v_init, bool) or not 0.0 <= self.v_init < 1.0:
            raise InputError(f"v_init is a fraction of the threshold in [0, 1), got {self.v_init}")
        if self.bipolar_mode is not None:
            parse_mode(self.bipolar_mode)
        for name in ("refine_samples", "calib_steps", "bipolar_burst", "bipolar_headroom"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")

    @property
    def max_spikes(self) -> int:
        """The effective burst: ``burst``, else the neuron's default."""
        if self.burst is not None:
            return self.burst
        return DEFAULT_BURST if self.neuron == "signed" else 1

    @property
    def bipolar_range_mode(self) -> str | float:
        """The effective ``bipolar_mode``: ``mode`` unless given."""
        return self.mode if self.bipolar_mode is None else self.bipolar_mode

    @property
    def steps(self) -> int | None:
        """Steps the layer calibration simulates (None: no layer calibration)."""
        if self.T is None:
            return None
        return self.calib_steps if self.T == ANY_T else int(self.T)

    @property
    def quantile(self) -> float:
        """The percentile of a percentile ``mode`` (1.0 for max or a scale)."""
        kind, value = parse_mode(self.mode)
        return value if kind == "percentile" else 1.0

    def replace(self, **changes: Any) -> ConversionOptions:
        """A copy with ``changes`` (option names as keywords), validated."""
        unknown = sorted(set(changes) - set(NAMES))
        if unknown:
            raise TypeError(
                f"unknown conversion option(s) {', '.join(unknown)}; options: {', '.join(NAMES)}"
            )
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The effective options (``burst`` resolved), JSON-ready."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["burst"] = self.max_spikes
        out["mode"] = str(self.mode)
        out["bipolar_mode"] = str(self.bipolar_range_mode)
        return out


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InputError(f"{name} {value!r} unknown; use one of {', '.join(allowed)}")


NAMES = tuple(f.name for f in dataclasses.fields(ConversionOptions))
PLAIN: Mapping[str, Any] = MappingProxyType(
    {"T": None, "v_init": 0.0, "neuron": "if", "maxpool": "pre"}
)
"""Options of the plain conversion (Rueckauer et al. 2017) that chips without signed or
bursting neurons, cumulative pooling or a fitted start take (Loihi 2, NIR):
``ann2snn(model, data, **PLAIN)`` or ``options.replace(**PLAIN)``."""
