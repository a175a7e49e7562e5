"""Balance a network into a pipeline: every synapse hop costs Loihi 2 one step, so a
population ``P`` whose inputs come along paths of different lengths would see them at
different steps. With ``d(P) = 1 + max_{k → P} d(src_k)`` (the input at depth 0), each
synapse gets the delay ``d(P) − d(src) − 1`` (Loihi 2's synaptic delay, 0…63 steps), so
every input of ``P`` for one step of the network arrives at the same step and Loihi step
``d(P) + t`` of ``P`` is step ``t`` of the simulator's zero-latency network. The network's
latency is the depth of its output."""

from __future__ import annotations

from dataclasses import replace

from ....errors import UnsupportedOpError
from ..network import MAX_DELAY, Paths


def balance(paths: Paths) -> Paths:
    """``paths`` with the delays that make it a pipeline and its latency (see the module
    docstring); refuses a delay beyond Loihi 2's 63 steps, naming the synapse."""
    plain = replace(paths, synapses=tuple(replace(s, delay=0) for s in paths.synapses))
    d = plain.stages()
    synapses = tuple(replace(s, delay=d[s.dst] - d[s.src] - 1) for s in plain.synapses)
    long = [s for s in synapses if s.delay > MAX_DELAY]
    if long:
        worst = max(long, key=lambda s: s.delay)
        raise UnsupportedOpError(
            f"{len(long)} synapse(s) need a delay beyond Loihi 2's {MAX_DELAY} steps to "
            f"balance the pipeline ({worst.name}: {worst.src} → {worst.dst} needs "
            f"{worst.delay})"
        )
    return replace(paths, synapses=synapses, latency=d[paths.output])
