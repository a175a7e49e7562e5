"""Lava / Loihi 2 target — everything Loihi in one package: lowering to populations and
composed synapses (:mod:`.paths`, :mod:`.compose`, :data:`REGISTRY`), quantisers with one
shared core for CUBA and sigma-delta neurons (:mod:`.quantize`, :mod:`.sdnn`, threshold
tuning in :mod:`.tune`), the writers — a Lava process graph (:mod:`.emit`,
:mod:`.procgraph`, with the standalone loader :mod:`.procgraph_loader`) and NetX HDF5 for
chains (:mod:`.netx`, h5py only) —, the bit-accurate fixed-point simulator
(:mod:`.fixed_point`, :mod:`.neurons`, :mod:`.synapses`), Lava-DL blocks (:mod:`.lava_dl`),
the fit report (:mod:`.fit`) and Lava runs (:mod:`.run`, :mod:`.verify`). Lava itself is
needed only by :mod:`.run`, :func:`to_lava_dl` and the loader's ``build``."""

from .lava_dl import to_lava_dl
from .network import LoihiNet
from .netx import write_netx
from .paths import REGISTRY, lower
from .procgraph import ProcGraph

__all__ = ["REGISTRY", "LoihiNet", "ProcGraph", "lower", "to_lava_dl", "write_netx"]
