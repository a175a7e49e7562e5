"""Formats: the Lava process graph (``.lpg.npz``) with its standalone loader and Lava's
array layout, NetX HDF5 for chains, Lava-DL blocks."""
