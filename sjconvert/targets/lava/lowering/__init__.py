"""Lowering: a spiking IR graph to populations and synapses (one composed synapse per
linear path)."""
