"""Lowering: a spiking IR graph to populations and synapses (one composed synapse per
linear path; max pools as ReLU trees, :mod:`.max_pools`; reshapes, transposes and slices as
selections folded into the synapses, :mod:`.movements`; concatenations, :mod:`.concats`)."""

from . import concats, max_pools, movements  # noqa: F401  (they register their emitters)
