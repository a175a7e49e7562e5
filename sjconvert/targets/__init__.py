"""Deployment targets. Each sub-package (``lava``, ``lynxi``, ``onnx``, ``nir``, ``cupy``)
registers its emitters in :mod:`.registry` when imported; nothing here imports a vendor SDK."""

from .registry import EMITTERS, available_targets, check, emitter, load_target, register

__all__ = ["EMITTERS", "available_targets", "check", "emitter", "load_target", "register"]
