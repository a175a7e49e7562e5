"""Graph passes: pure ``Graph -> Graph`` functions, and pipelines of them.

``run_pipeline`` re-raises any failure with the pass that failed and those before it, and
re-validates the graph after each pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from ..errors import SjconvertError
from ..ir.graph import Graph
from .calibrate import ActivationSummary, calibrate, parse_mode, statistic
from .expectation import encode_spikes, expectation
from .fold import fold_batchnorm, remove_identities
from .fold_scale import fold_scales
from .normalise import relu_to_if
from .pools import accumulate_pools, replace_maxpool

Pass = Callable[[Graph], Graph]


def pass_name(p: Pass) -> str:
    return p.func.__name__ if isinstance(p, partial) else getattr(p, "__name__", repr(p))


def run_pipeline(graph: Graph, passes: Sequence[Pass]) -> Graph:
    """Apply ``passes`` in order. A pass refusing its input (any :class:`SjconvertError`) is
    re-raised with the pass's name and the passes before it; anything else is a bug and
    propagates unchanged (the CLI reports it as an internal error)."""
    done: list[str] = []
    for p in passes:
        name = pass_name(p)
        try:
            graph = p(graph)
        except SjconvertError as exc:
            after = f" after {', '.join(done)}" if done else ""
            raise type(exc)(f"pass {name} failed{after}: {exc}") from None
        done.append(name)
    return graph


# Passes that prepare a captured ANN for calibration and conversion.
PREPARE: list[Pass] = [remove_identities, fold_batchnorm, encode_spikes]

__all__ = [
    "PREPARE",
    "ActivationSummary",
    "Pass",
    "accumulate_pools",
    "calibrate",
    "encode_spikes",
    "expectation",
    "fold_batchnorm",
    "fold_scales",
    "parse_mode",
    "relu_to_if",
    "remove_identities",
    "replace_maxpool",
    "run_pipeline",
    "statistic",
]
