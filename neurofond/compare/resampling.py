"""Model time -> data time: resampling step responses onto data bins at a time scale and delay."""

from __future__ import annotations

import numpy as np

from .protocol import FANO_WINDOW_MS

__all__ = ["fano_step_mask", "resample_matrix"]


def resample_matrix(steps: np.ndarray, ms_per_step: float, delay_ms: float,
                    edges: np.ndarray) -> np.ndarray:
    """Weights ``(n_bins, n_steps)``: expected count per data bin = ``W @ count per step``.

    Step ``s`` covers data time ``[s m + d, (s + 1) m + d)`` (``m`` ms per step, delay
    ``d``); each bin takes the overlapping fraction of every step. Parts of a bin before
    the first step or after the last one take the first / last step (clamped).
    """
    m = float(ms_per_step)
    lo = np.asarray(steps, dtype=float) * m + float(delay_ms)
    hi = lo + m
    a, b = edges[:-1, None], edges[1:, None]
    w = np.clip(np.minimum(hi[None], b) - np.maximum(lo[None], a), 0.0, None)
    w[:, 0] += np.clip(np.minimum(edges[1:], lo[0]) - edges[:-1], 0.0, None)
    w[:, -1] += np.clip(edges[1:] - np.maximum(edges[:-1], hi[-1]), 0.0, None)
    return w / m


def fano_step_mask(steps: np.ndarray, ms_per_step: float, delay_ms: float) -> np.ndarray:
    """Model steps whose start falls into the Fano window of data time.

    Not a window over the bins of a Responses array (those go through
    :class:`~neurofond.responses.Window`): it maps model steps of a fitted, possibly
    fractional, time scale (e.g. 3 ms per step) onto data time, where a step may straddle the
    window end; the step-start rule keeps every step exactly once and the reported Fano
    factors unchanged.
    """
    t = np.asarray(steps, dtype=float) * ms_per_step + delay_ms
    return (t >= FANO_WINDOW_MS[0] - 1e-9) & (t < FANO_WINDOW_MS[1] - 1e-9)
