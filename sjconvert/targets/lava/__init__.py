"""Lava / Loihi 2 target: lower a quantised graph to a fixed-point chain of CUBA or
sigma-delta layers and write it as NetX HDF5 (h5py only). Lava itself is needed only by
:mod:`.run` and by :func:`to_lava_dl`."""

from .lava_dl import to_lava_dl
from .lower import lower
from .netx import write_netx

__all__ = ["lower", "to_lava_dl", "write_netx"]
