"""Balance a network into a pipeline: every synapse hop costs Loihi 2 one step, so a
population ``P`` whose inputs come along paths of different lengths would see them at
different steps. With ``d(P) = 1 + max_{k → P} d(src_k)`` (the input at depth 0), each
synapse gets the delay ``d(P) − d(src) − 1`` (Loihi 2's synaptic delay, 0…63 steps), so
every input of ``P`` for one step of the network arrives at the same step and Loihi step
``d(P) + t`` of ``P`` is step ``t`` of the simulator's zero-latency network. The network's
latency is the depth of its output."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ....errors import UnsupportedOpError
from ..network import MAX_DELAY, Paths, Population, Synapse


def balance(paths: Paths) -> Paths:
    """``paths`` with the delays that make it a pipeline and its latency (see the module
    docstring); refuses a delay beyond Loihi 2's 63 steps, naming the synapse."""
    plain = replace(paths, synapses=tuple(replace(s, delay=0) for s in paths.synapses))
    d = plain.stages()
    synapses = tuple(replace(s, delay=d[s.dst] - d[s.src] - 1) for s in plain.synapses)
    long = [s for s in synapses if s.delay > MAX_DELAY]
    relayed = _relay_long(paths, long) if long else None
    if relayed is not None:
        return balance(relayed)
    if long:
        worst = max(long, key=lambda s: s.delay)
        raise UnsupportedOpError(
            f"{len(long)} synapse(s) need a delay beyond Loihi 2's {MAX_DELAY} steps to "
            f"balance the pipeline ({worst.name}: {worst.src} → {worst.dst} needs "
            f"{worst.delay})"
        )
    return replace(paths, synapses=synapses, latency=d[paths.output])


def _relay_long(paths: Paths, long: list[Synapse]) -> Paths | None:
    """``paths`` with each synapse one step beyond Loihi 2's delay limit (DenseNet-169's
    transitions, 64 steps) sent through a relay of its spiking source (an exact copy of its
    counts, :func:`_gain_relay`): the relay's hop is the step the delay lacked. None when a
    synapse lacks more than one step or its source is not a spiking population."""
    sources = {s.src: paths.populations.get(s.src) for s in long}
    if any(s.delay > MAX_DELAY + 1 for s in long) or not all(
        p is not None and p.role == "neuron" and p.node.spiking for p in sources.values()
    ):
        return None
    relays = {src: _gain_relay(pop, paths) for src, pop in sources.items()}
    moved = {s.name for s in long}
    synapses = [
        replace(s, src=relays[s.src].name, path=(*s.path, relays[s.src].name))
        if s.name in moved
        else s
        for s in paths.synapses
    ]
    return _with_relays(paths, relays, synapses)


def _with_relays(paths: Paths, relays: dict[str, Population], synapses: list[Synapse]) -> Paths:
    """``paths`` with each relay after its source and the identity synapse into it."""
    pops: dict[str, Population] = {}
    for name, pop in paths.populations.items():
        pops[name] = pop
        if name in relays:
            pops[relays[name].name] = relays[name]
    feeds = [_relay_synapse(r, src) for src, r in relays.items()]
    return replace(paths, populations=pops, synapses=tuple(feeds + synapses))


GAIN_RATIO = 8.0  # a synapse this much stronger than the others into a neuron gets a relay


def amplify(paths: Paths) -> Paths:
    """Route through a **gain relay** every synapse from a spiking population whose weights,
    on most of its target's channels, exceed those of the other synapses into it by
    :data:`GAIN_RATIO` (a residual skip against a convolution): with one state scale per
    channel shared by all synapses, 8-bit weights would leave the others few levels. The
    relay (:func:`~..quantising.graded.quantize_graded`) sends ``K_relay`` (127) per spike,
    so the strong synapse needs 127× smaller integer weights; it costs the source's neurons
    and one hop on a path that usually waits for a longer one anyway."""
    relays: dict[str, Population] = {}
    synapses = list(paths.synapses)
    for name, pop in paths.populations.items():
        into = [s for s in synapses if s.dst == name]
        if pop.role != "neuron" or len(into) < 2:
            continue
        peak = {s.name: np.abs(s.weight).reshape(len(s.weight), -1).max(1) for s in into}
        for s in into:
            src = paths.populations.get(s.src)
            if src is None or src.role != "neuron" or not src.node.spiking:
                continue
            others = np.max([peak[o.name] for o in into if o is not s], 0)
            if np.median(peak[s.name] / np.maximum(others, 1e-30)) > GAIN_RATIO:
                relay = relays.setdefault(s.src, _gain_relay(src, paths))
                at = synapses.index(s)
                synapses[at] = replace(s, src=relay.name, path=(*s.path, relay.name))
    return _with_relays(paths, relays, synapses) if relays else paths


def _gain_relay(src: Population, paths: Paths) -> Population:
    name, i = f"{src.name}_gain", 1
    while name in paths.populations:
        name, i = f"{src.name}_gain_{i}", i + 1
    return Population(name, src.node, src.shape, np.zeros(src.shape), role="relay")


def _relay_synapse(relay: Population, src: str) -> Synapse:
    """The identity from the source into its gain relay: a depthwise 1×1 convolution (a
    dense identity for a flat population)."""
    c, dims = relay.shape[0], len(relay.shape) - 1
    if not dims:
        return Synapse(f"{relay.name}_in", src, relay.name, "dense", np.eye(c))
    one = (1,) * dims
    w = np.ones((c, 1, *one))
    return Synapse(f"{relay.name}_in", src, relay.name, "conv", w, one, (0,) * dims, one, c)
