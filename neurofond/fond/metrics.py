"""Reconstruction, sparsity and convergence metrics of iterative inference.

Definitions follow Vafaii, Galor & Yates (2025) and the authors' analysis code.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "convergence_index",
    "distance_to_ideal",
    "r2_per_sample",
    "squared_error_parts",
]


def squared_error_parts(x: torch.Tensor, x_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample residual and total sums of squares ``(SS_res, SS_tot)``.

    ``SS_tot`` is taken around each sample's own mean over pixels.
    """
    ss_res = ((x - x_hat) ** 2).sum(-1)
    ss_tot = ((x - x.mean(-1, keepdim=True)) ** 2).sum(-1)
    return ss_res, ss_tot


def r2_per_sample(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Coefficient of determination of each sample.

    ``R^2_i = 1 - sum_d (x_id - xhat_id)^2 / sum_d (x_id - mean_d x_id)^2``.
    The paper averages it over samples. Flat samples (zero variance) give -inf
    or NaN; callers that average should be aware (the paper's data has none).
    """
    ss_res, ss_tot = squared_error_parts(x, x_hat)
    return 1.0 - ss_res / ss_tot


def convergence_index(trace: np.ndarray | list[float], window: int = 20, tol: float = 1e-5,
                      run: int = 5, per_window: bool = True) -> int:
    """Step at which a metric trace (e.g. R^2 over inference steps) has converged.

    A least-squares line is fit to every window of ``window`` consecutive
    values; convergence is the first run of ``run`` consecutive windows whose
    slope is below ``tol`` in magnitude. Returns that first window's start plus
    ``window``, or the last index if the trace never converges.

    Parameters
    ----------
    trace : array-like, shape (T,)
    window : int
    tol : float
    run : int
    per_window : bool
        If True (default) the tolerance applies to the slope per step divided
        by the window length (``|slope| / window < tol``). With the defaults
        this reproduces the indices published with the reference code's traces
        (iP 106, iGrelu 79, iG 53 on vH16; ``shared/reference``); a plain
        per-step slope below 1e-5 gives about twice those values.

    Returns
    -------
    int
    """
    y = np.asarray(trace, dtype=float)
    if y.ndim != 1:
        raise ValueError(f"trace: expected a 1-D array, got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError("trace: contains NaN or infinite values")
    n = y.size
    if n < window + run - 1:
        return n - 1
    t = np.arange(window, dtype=float)
    t -= t.mean()
    windows = np.lib.stride_tricks.sliding_window_view(y, window)
    slopes = (windows - windows.mean(1, keepdims=True)) @ t / (t @ t)
    if per_window:
        slopes = slopes / window
    flat = np.abs(slopes) < tol
    runs = np.lib.stride_tricks.sliding_window_view(flat, run).all(1)
    hits = np.nonzero(runs)[0]
    return int(hits[0] + window) if hits.size else n - 1


def distance_to_ideal(r2: float, zeros: float) -> float:
    """Rate-distortion summary ``sqrt((1 - R^2)^2 + (1 - zeros)^2)`` (0 is ideal)."""
    return math.sqrt((1.0 - r2) ** 2 + (1.0 - zeros) ** 2)
