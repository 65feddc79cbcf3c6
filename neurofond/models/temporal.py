"""The fixed temporal response of the baseline models.

The stimulus-on boxcar (onset 0, duration ``duration_ms``) convolved with a gamma kernel
``h(t) = t**(n-1) exp(-t / tau) / (tau**n (n-1)!)`` (order ``n = 3``, ``tau = 10`` ms: peak
20 ms, mean 30 ms after the input), averaged over each time bin; it rises from 0 to 1 after
onset and returns to 0 after offset. A response delay is not part of the kernel (the
comparison engine fits it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["gamma_kernel", "stimulus_time_course"]


def gamma_kernel(t_ms: Any, tau_ms: float = 10.0, order: int = 3) -> np.ndarray:
    """Gamma kernel ``t**(n-1) exp(-t/tau) / (tau**n (n-1)!)`` (1/ms; 0 for ``t <= 0``)."""
    import math

    if tau_ms <= 0 or int(order) != order or order < 1:
        raise ValueError(f"tau_ms > 0 and an integer order >= 1 expected, got {tau_ms}, {order}")
    t = np.asarray(t_ms, dtype=np.float64)
    pos = np.clip(t, 0.0, None) / tau_ms
    out = pos ** (order - 1) * np.exp(-pos) / (tau_ms * math.factorial(int(order) - 1))
    return np.where(t > 0, out, 0.0)


def stimulus_time_course(bin_start_ms: Any, bin_ms: float, *, duration_ms: float = 500.0,
                         tau_ms: float = 10.0, order: int = 3, n_sub: int = 10) -> np.ndarray:
    """Stimulus-on boxcar convolved with a gamma kernel, averaged over each bin.

    ``g(t) = G(t) - G(t - duration)`` with ``G`` the gamma CDF (regularised lower
    incomplete gamma function), i.e. the response to a step that starts at 0 ms and ends at
    ``duration_ms``; values in [0, 1].

    Parameters
    ----------
    bin_start_ms : array-like
        Start of every bin (ms, 0 = stimulus onset).
    bin_ms : float
        Bin width (ms).
    duration_ms, tau_ms, order
        Stimulus duration and kernel parameters (see :func:`gamma_kernel`).
    n_sub : int
        Sub-samples per bin for the average.
    """
    from scipy.special import gammainc

    starts = np.asarray(bin_start_ms, dtype=np.float64)
    offs = (np.arange(n_sub) + 0.5) / n_sub * float(bin_ms)
    t = starts[:, None] + offs[None, :]

    def cdf(x):
        return np.where(x > 0, gammainc(order, np.clip(x, 0.0, None) / tau_ms), 0.0)

    return (cdf(t) - cdf(t - duration_ms)).mean(axis=1)
