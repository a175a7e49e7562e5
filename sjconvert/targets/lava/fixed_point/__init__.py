"""Fixed-point simulation: bit-accurate models of Lava's ``fixed_pt`` processes, run on a
process graph, and the validated read of an artifact (a dry run in the simulator)."""
