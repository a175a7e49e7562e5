"""Deployment targets, one sub-package each (``cupy``, ``lava``, ``lynxi``, ``nir``,
``onnx``), each with its own emitter :class:`~.registry.Registry` (``REGISTRY``). No target
imports another; nothing here imports a vendor SDK."""

from .registry import Registration, Registry, available_targets, load_target

__all__ = ["Registration", "Registry", "available_targets", "load_target"]
