"""Lava / Loihi 2 target — everything Loihi in one package, split by role:

* :mod:`.network` — the data model the roles share: the float network of populations and
  synapses (:class:`~.network.Paths`) and the quantised one (:class:`LoihiNet`);
* :mod:`.lowering` — a spiking IR graph to populations with one composed synapse per linear
  path (:func:`lower`, :data:`REGISTRY`);
* :mod:`.quantising` — integer weights and Loihi neuron parameters (CUBA, sigma-delta; one
  shared core);
* :mod:`.formats` — what is written: the Lava process graph (``.lpg.npz``, its standalone
  loader and Lava's array layout), NetX HDF5 for chains, Lava-DL blocks;
* :mod:`.fixed_point` — our bit-accurate simulator of Lava's fixed-point processes, run on the
  process graph itself (and the validated read of an artifact, which dry-runs it);
* :mod:`.running` — Lava itself: the batched run in the Lava environment, its launcher and
  the comparison with our simulator, the unrolled twin;
* on top: :mod:`.build` (lower → quantise → emit → write), :mod:`.threshold_factor` (the
  CUBA α chosen on data), :mod:`.verification` (Lava against our simulator) and
  :mod:`.chip_fit` (the Loihi 2 cores report).

Lava itself is needed only by :mod:`.running.in_lava`, :func:`to_lava_dl` and the loader's
``build``. import-linter keeps the roles in these layers (``pyproject.toml``)."""

from .build import LoihiExport, to_loihi
from .formats.lava_dl import to_lava_dl
from .formats.netx_writer import write_netx
from .formats.procgraph import ProcGraph
from .lowering.populations import REGISTRY, lower
from .network import LoihiNet

__all__ = [
    "REGISTRY",
    "LoihiExport",
    "LoihiNet",
    "ProcGraph",
    "lower",
    "to_lava_dl",
    "to_loihi",
    "write_netx",
]
