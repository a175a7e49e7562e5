"""Pure array functions that the passes share (float64 internally, float32 out)."""

from __future__ import annotations

import numpy as np


def fold_bn(
    w: np.ndarray,
    b: np.ndarray | None,
    mean: np.ndarray,
    var: np.ndarray,
    eps: float,
    gamma: np.ndarray,
    beta: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Fold inference batch norm into the preceding synapse (output channels on axis 0).

    ``BN(W x + b) = γ (W x + b − μ)/√(σ² + ε) + β = W̄ x + b̄`` with
    ``W̄ = W · γ/√(σ² + ε)`` (per output channel) and ``b̄ = (b − μ) γ/√(σ² + ε) + β``.
    """
    k = gamma.astype(np.float64) / np.sqrt(var.astype(np.float64) + eps)
    b0 = np.zeros(w.shape[0]) if b is None else b.astype(np.float64)
    w_new = w.astype(np.float64) * k.reshape(-1, *([1] * (w.ndim - 1)))
    b_new = (b0 - mean) * k + beta
    return w_new.astype(np.float32), b_new.astype(np.float32)
