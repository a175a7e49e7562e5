"""Balance a network into a pipeline: every synapse hop costs Loihi 2 one step, so a
population ``P`` whose inputs come along paths of different lengths would see them at
different steps. With ``d(P) = max_{k → P} (d(src_k) + 1 + delay_k)`` (the input at depth
0; the lowering's delays are 0), each synapse gets the delay ``d(P) − d(src) − 1``
(Loihi 2's synaptic delay, 0…63 steps), so every input of ``P`` for one step of the network
arrives at the same step and Loihi step ``d(P) + t`` of ``P`` is step ``t`` of the
simulator's zero-latency network. The network's latency is the depth of its output.

A delay ``D`` beyond 63 steps (DenseNet's skips across a dense block: 64 for DenseNet-169,
about 72 and 96 for DenseNet-161 and -201) goes through a **delay chain**: relays ``R_j`` of
its source ``S``, exact copies of its messages, each 63 steps of delay plus one hop after
the one before, so ``d(R_j) = d(S) + 64·j``; the synapse leaves from ``R_j`` with
``j = ⌊D / 64⌋`` and keeps the delay ``D − 64·j`` (0…63). One chain per source, as long as
its longest synapse needs, serves all its long synapses; no population's depth changes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ....errors import UnsupportedOpError
from ..network import MAX_DELAY, Paths, Population, Synapse

HOP = MAX_DELAY + 1  # the steps one link of a delay chain covers: its delay and its hop


def balance(paths: Paths) -> Paths:
    """``paths`` with the delays that make it a pipeline, the delay chains of synapses that
    need more than Loihi 2's 63 steps and its latency (see the module docstring); a synapse
    keeps at least the delay it has. Refuses a long synapse from the input, naming it."""
    d = paths.stages()
    synapses = [replace(s, delay=d[s.dst] - d[s.src] - 1) for s in paths.synapses]
    long = [s for s in synapses if s.delay > MAX_DELAY]
    if long:
        paths = _delay_chains(paths, synapses, long)
        synapses = list(paths.synapses)
    return replace(paths, synapses=tuple(synapses), latency=d[paths.output])


def _delay_chains(paths: Paths, synapses: list[Synapse], long: list[Synapse]) -> Paths:
    """``paths`` with ``synapses`` (balanced) and a delay chain for each source of a synapse
    in ``long`` (the module docstring): relays ``<source>_delay<j>``, exact identities
    delayed 63 steps between them, each long synapse moved to its relay."""
    if any(s.src == paths.input for s in long):
        worst = max((s for s in long if s.src == paths.input), key=lambda s: s.delay)
        raise UnsupportedOpError(
            f"{worst.name}: the input → {worst.dst} needs a delay of {worst.delay} steps, "
            f"beyond Loihi 2's {MAX_DELAY}; only a population's messages can be relayed"
        )
    chains: dict[str, list[Population]] = {}
    for src in dict.fromkeys(s.src for s in long):
        links = max(s.delay for s in long if s.src == src) // HOP
        pop = paths.populations[src]
        chains[src] = [_relay(pop, paths, f"{src}_delay{j}") for j in range(1, links + 1)]
    moved = []
    for s in synapses:
        if s.delay > MAX_DELAY:
            relay = chains[s.src][s.delay // HOP - 1]
            s = replace(s, src=relay.name, delay=s.delay % HOP, path=(*s.path, relay.name))
        moved.append(s)
    feeds = [
        replace(_relay_synapse(r, prev.name, exact=True), delay=MAX_DELAY)
        for src, chain in chains.items()
        for prev, r in zip([paths.populations[src], *chain], chain, strict=False)
    ]
    return _with_relays(paths, chains, feeds + moved)


def _with_relays(
    paths: Paths, relays: dict[str, list[Population]], synapses: list[Synapse]
) -> Paths:
    """``paths`` with each source's relays right after it and ``synapses``."""
    pops: dict[str, Population] = {}
    for name, pop in paths.populations.items():
        pops[name] = pop
        pops.update((r.name, r) for r in relays.get(name, ()))
    return replace(paths, populations=pops, synapses=tuple(synapses))


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
                relay = relays.setdefault(s.src, _relay(src, paths, f"{s.src}_gain"))
                at = synapses.index(s)
                synapses[at] = replace(s, src=relay.name, path=(*s.path, relay.name))
    if not relays:
        return paths
    feeds = [_relay_synapse(r, src) for src, r in relays.items()]
    return _with_relays(paths, {src: [r] for src, r in relays.items()}, feeds + synapses)


def _relay(src: Population, paths: Paths, name: str) -> Population:
    """A relay of ``src`` named ``name`` (or ``name_1``, … if taken)."""
    base, i = name, 1
    while name in paths.populations:
        name, i = f"{base}_{i}", i + 1
    return Population(name, src.node, src.shape, np.zeros(src.shape), role="relay")


def _relay_synapse(relay: Population, src: str, exact: bool = False) -> Synapse:
    """The identity from ``src`` into its relay: a depthwise 1×1 convolution (a dense
    identity for a flat population); ``exact``: integer, in units of the source's messages
    (a delay relay's messages are then the source's own)."""
    c, dims = relay.shape[0], len(relay.shape) - 1
    kind = np.int64 if exact else np.float64
    if not dims:
        return Synapse(
            f"{relay.name}_in", src, relay.name, "dense", np.eye(c, dtype=kind), exact=exact
        )
    one = (1,) * dims
    w = np.ones((c, 1, *one), kind)
    return Synapse(
        f"{relay.name}_in", src, relay.name, "conv", w, one, (0,) * dims, one, c, exact=exact
    )
