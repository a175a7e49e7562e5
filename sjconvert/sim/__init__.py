"""Reference simulators over the IR."""

from .reference import Program, SimResult, simulate

__all__ = ["Program", "SimResult", "simulate"]
