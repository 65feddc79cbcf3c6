"""Scores of predictions per neuron and their NaN-aware aggregation.

:func:`pearson_r` (per column), the coefficient of determination and the explained
variance per column, and the NaN-skipping median / mean / standard deviation used for
Brain-Score's aggregation (median over neurons per split, mean and standard error over
splits; ``CrossRegressedCorrelation`` and ``Split.aggregate``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["pearson_r"]


def pearson_r(y_true: Any, y_pred: Any) -> np.ndarray:
    """Pearson correlation per column (neuron) of two (n_samples, n_neurons) arrays.

    NaN where either column is constant. 1-D inputs are one column.
    """
    a = np.asarray(y_true, dtype=np.float64)
    b = np.asarray(y_pred, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"y_pred: shape {b.shape} differs from y_true's {a.shape}")
    if a.ndim == 1:
        a, b = a[:, None], b[:, None]
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    na = np.sqrt((a * a).sum(axis=0))
    nb = np.sqrt((b * b).sum(axis=0))
    num = (a * b).sum(axis=0)
    ok = (na > 0) & (nb > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(ok, num / np.where(ok, na * nb, 1.0), np.nan)
    return np.clip(r, -1.0, 1.0)


def _r2(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination per column: 1 - SSE / SST (NaN where SST = 0)."""
    sse = ((y - pred) ** 2).sum(axis=0)
    sst = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sst > 0, 1.0 - sse / np.where(sst > 0, sst, 1.0), np.nan)


def _explained_variance(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """1 - Var(y - pred) / Var(y) per column (NaN where Var(y) = 0)."""
    vr = np.var(y - pred, axis=0)
    vy = np.var(y, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(vy > 0, 1.0 - vr / np.where(vy > 0, vy, 1.0), np.nan)


def _nanmedian(x: np.ndarray, axis: int) -> np.ndarray:
    """NaN-skipping median without the all-NaN RuntimeWarning."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    out = np.full(x.shape[:-1], np.nan)
    valid = ~np.isnan(x)
    anyv = valid.any(axis=-1)
    if anyv.any():
        out[anyv] = np.nanmedian(x[anyv], axis=-1)
    return out


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    valid = ~np.isnan(x)
    n = valid.sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(valid, x, 0.0).sum(axis=axis) / np.maximum(n, 1), np.nan)


def _nanstd(x: np.ndarray, axis: int) -> np.ndarray:
    m = np.expand_dims(_nanmean(x, axis), axis)
    return np.sqrt(_nanmean((x - m) ** 2, axis))
