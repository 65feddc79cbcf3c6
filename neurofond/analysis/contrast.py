"""Contrast response functions: the Naka-Rushton (hyperbolic ratio) function and its fit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurofond.analysis._base import _coords_on, _provenance

__all__ = ["naka_rushton", "fit_naka_rushton"]

PARAMS = ("r_max", "c50", "n", "r0")


def naka_rushton(c: Any, r_max: Any, c50: Any, n: Any, r0: Any = 0.0) -> np.ndarray:
    """Naka-Rushton contrast response function.

    Parameters
    ----------
    c : array_like
        Contrast (>= 0), in any unit (fraction or percent) shared with ``c50``.
    r_max : array_like
        Maximal response increment above ``r0`` (spikes/s).
    c50 : array_like
        Semi-saturation contrast (> 0), same unit as ``c``.
    n : array_like
        Exponent (> 0).
    r0 : array_like
        Response at zero contrast (spontaneous rate).

    Returns
    -------
    numpy.ndarray
        :math:`R(c) = R_{max} c^n / (c^n + c_{50}^n) + R_0`, broadcast over the inputs.

    Raises
    ------
    ValueError
        If ``c`` is negative or ``c50`` / ``n`` are not positive.

    Notes
    -----
    Naka & Rushton (1966) J Physiol 185:536-555; applied to V1 contrast responses by
    Albrecht & Hamilton (1982) J Neurophysiol 48:217-237.

    Examples
    --------
    >>> float(naka_rushton(0.2, r_max=10.0, c50=0.2, n=2.0, r0=1.0))
    6.0
    """
    c = np.asarray(c, dtype=float)
    c50 = np.asarray(c50, dtype=float)
    n = np.asarray(n, dtype=float)
    if np.any(c < 0):
        raise ValueError("c: contrasts must be >= 0")
    if np.any(c50 <= 0):
        raise ValueError("c50: must be > 0")
    if np.any(n <= 0):
        raise ValueError("n: must be > 0")
    # c^n / (c^n + c50^n) written as 1 / (1 + (c50/c)^n) for stability, 0 at c = 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        frac = np.where(c > 0, 1.0 / (1.0 + (c50 / np.where(c > 0, c, 1.0)) ** n), 0.0)
    return np.asarray(r_max, dtype=float) * frac + np.asarray(r0, dtype=float)


def _fit_one(
    c: np.ndarray,
    y: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray],
    starts: list[np.ndarray],
) -> tuple[np.ndarray, float, bool, np.ndarray]:
    from scipy.optimize import least_squares

    def resid(p: np.ndarray) -> np.ndarray:
        return naka_rushton(c, p[0], p[1], p[2], p[3]) - y

    best = None
    for p0 in starts:
        p0 = np.clip(p0, bounds[0] + 1e-12, bounds[1] - 1e-12)
        try:
            res = least_squares(resid, p0, bounds=bounds, x_scale="jac", max_nfev=2000)
        except ValueError:  # pragma: no cover - degenerate start
            continue
        if best is None or res.cost < best.cost:
            best = res
    if best is None:  # pragma: no cover
        return np.full(4, np.nan), np.nan, False, np.zeros(4, dtype=int)
    ss_res = float(np.sum(best.fun**2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else np.nan
    # a parameter at a bound: the optimiser's active constraint, or within 1e-6 of the
    # bound's span (least_squares keeps iterates strictly inside)
    tol = 1e-6 * (bounds[1] - bounds[0])
    side = np.asarray(best.active_mask, dtype=int).copy()
    side[(side == 0) & (best.x <= bounds[0] + tol)] = -1
    side[(side == 0) & (best.x >= bounds[1] - tol)] = 1
    return best.x, r2, bool(best.success), side


def fit_naka_rushton(
    contrasts: Sequence[float] | np.ndarray | None,
    responses_per_neuron: np.ndarray | xr.DataArray,
    *,
    dim: str = "contrast",
    bounds: Mapping[str, tuple[float, float]] | None = None,
) -> xr.Dataset:
    """Least-squares fit of the Naka-Rushton function to each neuron's contrast response.

    Parameters
    ----------
    contrasts : sequence of float or None
        Contrast of each row of ``responses_per_neuron`` (>= 0). May be None when
        ``responses_per_neuron`` is a DataArray with a ``dim`` coordinate (e.g. from
        ``tuning_curve(responses, "contrast")``).
    responses_per_neuron : ndarray or xarray.DataArray
        Mean responses, shape ``(n_contrasts,)`` or ``(n_contrasts, n_neurons)``; a DataArray
        must have dims ``(dim, neuron)`` or ``(dim,)``. NaN entries are left out of that
        neuron's fit.
    dim : str
        Contrast dimension of a DataArray input.
    bounds : mapping, optional
        Override parameter bounds, e.g. ``{"n": (1.0, 4.0)}``. Defaults: ``r_max`` in
        ``[0, 10 * range(y) + 1e-9]``, ``c50`` in ``[1e-3 * c_pos_min, 10 * c_max]``, ``n``
        in ``[0.1, 10]``, ``r0`` in ``[min(0, min y), max y]``.

    Returns
    -------
    xarray.Dataset
        ``r_max``, ``c50``, ``n``, ``r0``, ``r2`` (coefficient of determination) and
        ``success`` over ``neuron`` (or the second dim of a DataArray input, whose coords
        are carried over), and the quality flags: ``at_bound`` (a parameter ended at a
        bound of the fit, so the optimum lies outside the allowed box; ``r0`` at the
        default lower bound 0 is a zero spontaneous rate and is not flagged), ``c50_in_range``
        (``c50`` within the tested positive contrasts, ``[min c > 0, max c]``; beyond them
        it is an extrapolation), ``flagged`` (any of: not converged, at a bound, ``c50``
        outside the range, too few points) and ``flag_reason`` (``""`` or the reasons,
        ``"; "``-separated). attrs count ``n_flagged``, ``n_at_bound`` and
        ``n_c50_outside_range``. Neurons with fewer than 4 finite responses give NaN
        (flagged).

    Raises
    ------
    ValueError
        If ``contrasts`` has negative / non-finite values, a length that does not match,
        fewer than 4 distinct values, or ``bounds`` names an unknown parameter.

    Notes
    -----
    Minimises the sum of squared residuals of :func:`naka_rushton` with
    :func:`scipy.optimize.least_squares` (trust-region reflective, box bounds) from several
    starting points (``c50`` at the 25/50/75 % quantiles of the positive contrasts, ``n`` in
    {1.5, 3}) and keeps the best. Naka & Rushton (1966); Albrecht & Hamilton (1982).

    Examples
    --------
    >>> import numpy as np
    >>> c = np.array([0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8])
    >>> y = naka_rushton(c, 20.0, 0.15, 2.5, 2.0)
    >>> fit = fit_naka_rushton(c, y)
    >>> round(float(fit["c50"][0]), 3)
    0.15
    """
    coords: dict[str, Any] = {}
    out_dim = "neuron"
    if isinstance(responses_per_neuron, xr.DataArray):
        da = responses_per_neuron
        if dim not in da.dims:
            raise ValueError(
                f"responses_per_neuron: has no dimension {dim!r}; dims are {tuple(da.dims)}"
            )
        if da.ndim > 2:
            raise ValueError("responses_per_neuron: expected dims (contrast, neuron)")
        da = da.transpose(dim, ...)
        if contrasts is None:
            if dim not in da.coords:
                raise ValueError("contrasts: None but responses_per_neuron has no contrast coord")
            contrasts = np.asarray(da[dim].values)
        if da.ndim == 2:
            out_dim = str(da.dims[1])
            coords = _coords_on(da, out_dim)
        y_all = np.asarray(da.values, dtype=float)
    else:
        y_all = np.asarray(responses_per_neuron, dtype=float)
    if contrasts is None:
        raise ValueError("contrasts: required unless responses_per_neuron is a DataArray")
    c = np.asarray(contrasts, dtype=float)
    if c.ndim != 1:
        raise ValueError(f"contrasts: expected a 1-D sequence, got shape {c.shape}")
    if not np.all(np.isfinite(c)) or np.any(c < 0):
        raise ValueError("contrasts: must be finite and >= 0")
    if np.unique(c).size < 4:
        raise ValueError(
            f"contrasts: need at least 4 distinct contrasts to fit 4 parameters, got {np.unique(c)}"
        )
    if y_all.ndim == 1:
        y_all = y_all[:, None]
    if y_all.ndim != 2 or y_all.shape[0] != c.size:
        raise ValueError(
            f"responses_per_neuron: expected shape ({c.size}, n_neurons), got {y_all.shape}"
        )
    if np.isinf(y_all).any():
        raise ValueError("responses_per_neuron: contains infinite values")
    bounds = dict(bounds or {})
    unknown = set(bounds) - set(PARAMS)
    if unknown:
        raise ValueError(f"bounds: unknown parameters {sorted(unknown)}; known: {PARAMS}")

    n_neurons = y_all.shape[1]
    out = np.full((n_neurons, 4), np.nan)
    r2 = np.full(n_neurons, np.nan)
    success = np.zeros(n_neurons, dtype=bool)
    sides = np.zeros((n_neurons, 4), dtype=int)
    c50_in_range = np.zeros(n_neurons, dtype=bool)
    reasons: list[list[str]] = [[] for _ in range(n_neurons)]
    for j in range(n_neurons):
        ok = np.isfinite(y_all[:, j])
        cj, yj = c[ok], y_all[ok, j]
        if np.unique(cj).size < 4:
            reasons[j].append("fewer than 4 distinct contrasts with finite responses")
            continue
        cpos = cj[cj > 0]
        span = float(yj.max() - yj.min())
        lo = np.array([0.0, 1e-3 * float(cpos.min()), 0.1, min(0.0, float(yj.min()))], dtype=float)
        hi = np.array(
            [10.0 * span + 1e-9, 10.0 * float(cj.max()), 10.0, float(yj.max()) + 1e-9],
            dtype=float,
        )
        for k, name in enumerate(PARAMS):
            if name in bounds:
                lo[k], hi[k] = (float(b) for b in bounds[name])
        if np.any(lo >= hi):
            raise ValueError(f"bounds: lower bounds must be < upper bounds, got {lo}, {hi}")
        starts = [
            np.array([span, float(np.quantile(cpos, q)), n0, float(yj.min())])
            for q in (0.25, 0.5, 0.75)
            for n0 in (1.5, 3.0)
        ]
        out[j], r2[j], success[j], sides[j] = _fit_one(cj, yj, (lo, hi), starts)
        if "r0" not in bounds and sides[j, 3] < 0 and lo[3] == 0.0:
            sides[j, 3] = 0  # a zero spontaneous rate is a valid value, not a bound artefact
        if not success[j]:
            reasons[j].append("the optimiser did not converge")
        for k, name in enumerate(PARAMS):
            if sides[j, k]:
                where = "lower" if sides[j, k] < 0 else "upper"
                bound = lo[k] if sides[j, k] < 0 else hi[k]
                reasons[j].append(f"{name} at its {where} bound ({bound:.4g})")
        c_lo, c_hi = float(cpos.min()), float(cj.max())
        c50_in_range[j] = c_lo <= out[j, 1] <= c_hi
        if not c50_in_range[j]:
            reasons[j].append(
                f"c50 = {out[j, 1]:.4g} outside the tested contrasts [{c_lo:.4g}, {c_hi:.4g}]"
            )
    attrs = _provenance(
        "contrast.fit_naka_rushton",
        responses_per_neuron if isinstance(responses_per_neuron, xr.DataArray) else None,
        contrasts=c,
        bounds=bounds,
    )
    data = {name: (out_dim, out[:, k]) for k, name in enumerate(PARAMS)}
    data["r2"] = (out_dim, r2)
    data["success"] = (out_dim, success)
    at_bound = (sides != 0).any(axis=1)
    data["at_bound"] = (out_dim, at_bound)
    data["c50_in_range"] = (out_dim, c50_in_range)
    flagged = np.array([bool(r) for r in reasons], dtype=bool)
    data["flagged"] = (out_dim, flagged)
    data["flag_reason"] = (out_dim, np.array(["; ".join(r) for r in reasons], dtype=str))
    attrs["n_flagged"] = int(flagged.sum())
    attrs["n_at_bound"] = int(at_bound.sum())
    attrs["n_c50_outside_range"] = int((~c50_in_range & np.isfinite(out[:, 1])).sum())
    return xr.Dataset(data, coords=coords, attrs=attrs)
