"""Lowering: a spiking IR graph to populations and synapses (one composed synapse per
linear path; max pools as ReLU trees, :mod:`.max_pools`)."""

from . import max_pools  # noqa: F401  (registers the max-pool emitters)
