"""Lava / Loihi 2 target — everything Loihi in one package: pool folding (:mod:`.pool`),
fixed-point quantisers with one shared core for CUBA and sigma-delta neurons
(:mod:`.quantize`, :mod:`.sdnn`), the Loihi neuron models (:mod:`.neurons`) and the
bit-accurate fixed-point simulator (:mod:`.fixed_point`), lowering (:mod:`.lower`,
:data:`REGISTRY`), the NetX HDF5 writer (:mod:`.netx`, h5py only), Lava-DL blocks
(:mod:`.lava_dl`), the fit report (:mod:`.fit`) and Lava runs (:mod:`.run`, :mod:`.verify`).
Lava itself is needed only by :mod:`.run` and :func:`to_lava_dl`."""

from .fixed_point import LoihiLayer, LoihiNet
from .lava_dl import to_lava_dl
from .lower import REGISTRY, lower
from .netx import write_netx

__all__ = ["REGISTRY", "LoihiLayer", "LoihiNet", "lower", "to_lava_dl", "write_netx"]
