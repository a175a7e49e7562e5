"""Quantising: integer synapses and Loihi neuron parameters for each neuron mapping (CUBA,
sigma-delta), on one shared core."""
