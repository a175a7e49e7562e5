"""Lava / Loihi 2 target: lower a quantised graph to a fixed-point chain of CUBA layers and
write it as NetX HDF5 (h5py only). Lava itself is needed only by :mod:`.run`."""

from .lower import lower
from .netx import write_netx

__all__ = ["lower", "write_netx"]
