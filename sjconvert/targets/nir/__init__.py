"""NIR target: export the IR to the Neuromorphic Intermediate Representation and import
NIR graphs into the IR (both directions share the conventions of :mod:`.convention`)."""

from .convention import DT
from .emitters import REGISTRY
from .export import save, to_nir, write
from .lossy import LOSSY, LossyReport
from .reader import from_nir, read

__all__ = ["DT", "LOSSY", "REGISTRY", "LossyReport", "from_nir", "read", "save", "to_nir", "write"]
