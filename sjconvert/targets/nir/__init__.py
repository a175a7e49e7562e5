"""NIR target: export the IR to the Neuromorphic Intermediate Representation and import
NIR graphs into the IR. Conventions (time step, neuron mapping) in :mod:`.convention`."""

from . import emitters
from .convention import DT
from .export import save, to_nir, write
from .lossy import LOSSY
from .reader import from_nir, read

__all__ = ["DT", "LOSSY", "emitters", "from_nir", "read", "save", "to_nir", "write"]
