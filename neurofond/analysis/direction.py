"""Direction selectivity on direction tuning curves: DSI, vector-sum (global) DSI, preferred
direction.

The curves come from :func:`neurofond.analysis.tuning_curve` over a ``direction`` stimulus
coordinate (drifting gratings of :func:`neurofond.stimuli.drifting_grating_sweep`, or the
drifting Ecker 2010 release, whose Responses carry ``direction``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from neurofond.analysis._base import _curve_axis, _provenance

__all__ = ["direction_selectivity"]

_TOL_DEG = 1e-6


def _grid(curve: Any, dim: str) -> tuple[np.ndarray, xr.DataArray]:
    theta, curve_t = _curve_axis(curve, dim, "curve")
    if theta.size < 2:
        raise ValueError(f"curve: needs at least 2 directions, got {theta.size}")
    wrapped = np.mod(theta, 360.0)
    d = np.abs((wrapped[:, None] - wrapped[None, :] + 180.0) % 360.0 - 180.0)
    np.fill_diagonal(d, np.inf)
    if (d < _TOL_DEG).any():
        raise ValueError(f"curve: directions repeat modulo 360 deg: {theta.tolist()}")
    return wrapped, curve_t


def _circ_index(grid: np.ndarray, angle: float) -> int | None:
    d = np.abs((grid - angle + 180.0) % 360.0 - 180.0)
    k = int(np.argmin(d))
    return k if d[k] < _TOL_DEG else None


def _even(grid: np.ndarray) -> bool:
    g = np.sort(grid)
    steps = np.diff(np.append(g, g[0] + 360.0))
    return bool(np.allclose(steps, 360.0 / g.size, rtol=0, atol=1e-6))


def direction_selectivity(
    curve: xr.DataArray, dim: str = "direction", *, interpolate: bool = False
) -> xr.Dataset:
    """Direction selectivity index, vector-sum DSI and preferred direction per curve.

    Parameters
    ----------
    curve : xarray.DataArray
        Direction tuning curve(s), e.g. ``tuning_curve(responses, "direction")``: a
        dimension ``dim`` with its directions in degrees (any range; taken modulo 360) and
        any other dimensions (``neuron``, ``trial`` ...), which are kept.
    dim : str
        The direction dimension (default ``"direction"``).
    interpolate : bool
        When False (default) every direction of the grid must have its opposite
        (direction + 180 deg) on the grid, else ``ValueError``. When True, the response at
        the null direction is interpolated linearly around the circle between the two
        nearest sampled directions (documented in the attrs).

    Returns
    -------
    xarray.Dataset
        Over the other dimensions of ``curve`` (with their coordinates):

        - ``dsi``: :math:`(R_{pref} - R_{null}) / (R_{pref} + R_{null})`, in [0, 1];
        - ``global_dsi``: :math:`|\\sum_k r_k e^{i\\theta_k}| / \\sum_k r_k` (vector sum,
          "1 - directional circular variance"), in [0, 1]; NaN when the directions are not
          evenly spaced over 360 deg (attrs ``global_dsi_note`` says so);
        - ``preferred_direction``: the sampled direction of the largest response (deg in
          [0, 360); ties: the first on the sorted grid);
        - ``vector_direction``: the angle of the vector sum (deg in [0, 360));
        - ``r_pref``, ``r_null``: the responses used;
        - ``reason``: empty where the values are defined, otherwise why they are NaN
          (``"all-zero curve"``, ``"missing values"``, ``"negative values"``).

    Raises
    ------
    ValueError
        If ``curve`` is not a DataArray with the ``dim`` dimension and coordinate, the
        directions repeat modulo 360 deg or are not finite, or (``interpolate=False``) a
        direction's opposite is not on the grid.

    Notes
    -----
    DSI as in Niell & Stryker (2008) J Neurosci 28:7520 and the Allen Brain Observatory
    (de Vries et al. 2020 Nat Neurosci 23:138), with the null direction opposite to the
    preferred one; the vector-sum global DSI as in Mazurek, Kager & Van Hooser (2014) Front
    Neural Circuits 8:92. Both need non-negative responses (rates): a curve with a
    negative value (signed activations) gives NaN with a reason; so does a curve that is
    zero everywhere or holds NaN. Rotating the direction grid by any angle leaves DSI and
    global DSI unchanged and rotates both preferred directions by that angle.

    Examples
    --------
    >>> import numpy as np
    >>> import xarray as xr
    >>> c = xr.DataArray([[4.0], [2.0], [1.0], [2.0]], dims=("direction", "neuron"),
    ...                  coords={"direction": [0, 90, 180, 270]})
    >>> ds = direction_selectivity(c)
    >>> [round(float(ds[k][0]), 4) for k in ("dsi", "global_dsi", "preferred_direction")]
    [0.6, 0.3333, 0.0]
    """
    grid, curve_t = _grid(curve, dim)
    n_dir = grid.size
    rest_dims = curve_t.dims[1:]
    rest_shape = curve_t.shape[1:]
    y = np.asarray(curve_t.values, dtype=np.float64).reshape(n_dir, -1)
    opposite = np.mod(grid + 180.0, 360.0)
    opp_idx = np.array([_circ_index(grid, a) if _circ_index(grid, a) is not None else -1
                        for a in opposite])
    if not interpolate and (opp_idx < 0).any():
        missing = [float(g) for g, k in zip(grid, opp_idx) if k < 0]
        raise ValueError(
            f"curve: the direction grid lacks the null direction (+180 deg) of {missing} deg; "
            "sample opposite directions or pass interpolate=True"
        )
    even = _even(grid)

    nan = np.isnan(y).any(0)
    neg = (np.nan_to_num(y) < 0).any(0)
    zero = ~nan & ~neg & (np.nan_to_num(y).sum(0) <= 0)
    bad = nan | neg | zero
    reason = np.full(y.shape[1], "", dtype=object)
    reason[zero] = "all-zero curve"
    reason[neg] = "negative values"
    reason[nan] = "missing values"

    yy = np.where(bad[None], 0.0, y)
    k_pref = np.argmax(yy, axis=0)
    cols = np.arange(y.shape[1])
    r_pref = yy[k_pref, cols]
    pref_dir = grid[k_pref]
    if not interpolate:
        r_null = yy[opp_idx[k_pref], cols]
    else:
        order = np.argsort(grid)
        r_null = np.array([
            np.interp(np.mod(pref_dir[c] + 180.0, 360.0), grid[order], yy[order, c],
                      period=360.0)
            for c in cols
        ])
    with np.errstate(invalid="ignore", divide="ignore"):
        dsi = (r_pref - r_null) / (r_pref + r_null)
        vec = (yy * np.exp(1j * np.deg2rad(grid))[:, None]).sum(0)
        gdsi = np.abs(vec) / yy.sum(0)
    vdir = np.mod(np.rad2deg(np.angle(vec)), 360.0)
    vdir = np.where(vdir >= 360.0, 0.0, vdir)  # -1e-15 % 360 rounds to 360
    if not even:
        gdsi = np.full_like(gdsi, np.nan)
    out = {
        "dsi": dsi, "global_dsi": gdsi, "preferred_direction": pref_dir,
        "vector_direction": vdir, "r_pref": r_pref, "r_null": r_null,
    }
    for key in out:
        out[key] = np.where(bad, np.nan, out[key])
    coords = {
        name: c for name, c in curve_t.coords.items()
        if name != dim and dim not in c.dims
    }
    units = curve.attrs.get("units", "")
    data: dict[str, Any] = {
        "dsi": (rest_dims, out["dsi"].reshape(rest_shape), {"units": "1"}),
        "global_dsi": (rest_dims, out["global_dsi"].reshape(rest_shape), {"units": "1"}),
        "preferred_direction": (rest_dims, out["preferred_direction"].reshape(rest_shape),
                                {"units": "deg"}),
        "vector_direction": (rest_dims, out["vector_direction"].reshape(rest_shape),
                             {"units": "deg"}),
        "r_pref": (rest_dims, out["r_pref"].reshape(rest_shape), {"units": units}),
        "r_null": (rest_dims, out["r_null"].reshape(rest_shape), {"units": units}),
        "reason": (rest_dims, reason.astype(str).reshape(rest_shape)),
    }
    attrs = _provenance(
        "direction.direction_selectivity",
        curve,
        dim=dim,
        directions=np.sort(grid),
        interpolate=bool(interpolate),
    )
    if "window_ms" in curve.attrs:
        attrs["window_ms"] = curve.attrs["window_ms"]
    attrs["null_direction"] = (
        "preferred + 180 deg, interpolated linearly around the circle" if interpolate
        else "preferred + 180 deg, sampled"
    )
    attrs["global_dsi_note"] = (
        "vector sum over evenly spaced directions" if even
        else "not computed: directions are not evenly spaced over 360 deg"
    )
    attrs["n_undefined"] = int(bad.sum())
    return xr.Dataset(data, coords=coords, attrs=attrs)
