"""Cross-orientation suppression: the response to a test grating with and without an
orthogonal mask.

The responses come from a cross-orientation sweep
(:func:`neurofond.stimuli.spatial_sweeps.cross_orientation_sweep`: test alone, test + mask
plaids at several mask contrasts, masks alone, blank), whose stimuli carry the coordinates
``test_contrast`` and ``mask_contrast``. Works on model neurons, baseline models and
recorded units alike; torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurofond.analysis._base import (
    _check_responses,
    _nanmean,
    _provenance,
    _stimulus_coord,
    _window_counts,
)
from neurofond.analysis.tuning import tuning_curve

__all__ = ["cross_orientation_curve", "cross_orientation_suppression"]

_TEST, _MASK = "test_contrast", "mask_contrast"


def _levels(values: np.ndarray, name: str) -> np.ndarray:
    vals = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(vals)) or np.any(vals < 0) or np.any(vals > 1):
        raise ValueError(f"{name}: contrasts must be finite and in [0, 1], got "
                         f"{np.unique(vals).tolist()}")
    return np.unique(np.round(vals, 12))


def cross_orientation_curve(
    responses: xr.DataArray,
    *,
    window_ms: Sequence[float] | None = None,
    where: Mapping[str, Any] | None = None,
    marginalize: Sequence[str] | None = None,
) -> xr.DataArray:
    """Mean rate per (test contrast, mask contrast) condition and neuron.

    Parameters
    ----------
    responses : xarray.DataArray
        ``Responses`` whose stimuli carry ``test_contrast`` and ``mask_contrast``
        coordinates (contrasts in [0, 1]).
    window_ms : (float, float), optional
        Response window (:class:`~neurofond.responses.Window` rule).
    where : mapping, optional
        Condition on other stimulus parameters (e.g. ``{"orientation": 90}``); parameters
        not conditioned on (phase ...) are averaged with equal weight per condition, as in
        :func:`~neurofond.analysis.tuning_curve`.
    marginalize : sequence of str, optional
        Other stimulus parameters to average over without a warning (as
        :func:`~neurofond.analysis.tuning_curve`); ``phase`` and ``mask_phase`` always are.

    Returns
    -------
    xarray.DataArray
        Rates (spikes/s), dims ``(test_contrast, mask_contrast, neuron)``; NaN for
        combinations that were not shown.

    Raises
    ------
    ValueError
        If a coordinate is missing or holds contrasts outside [0, 1], or as
        :func:`~neurofond.analysis.tuning_curve`.
    """
    _check_responses(responses)
    for key in (_TEST, _MASK):
        _levels(_stimulus_coord(responses, key, "responses"), key)
    where = dict(where or {})
    for key in (_TEST, _MASK):
        if key in where:
            raise ValueError(f"where: {key!r} is a dimension of the result; do not condition "
                             "on it")
    extra = [] if marginalize is None else list(marginalize)
    if "mask_phase" in responses.coords and "mask_phase" not in extra:
        extra.append("mask_phase")  # follows the test phase, a nuisance parameter
    curve = tuning_curve(responses, (_TEST, _MASK), window_ms=window_ms, where=where or None,
                         marginalize=extra)
    curve = curve.transpose(_TEST, _MASK, "neuron")
    attrs = dict(curve.attrs)
    attrs.update(_provenance("cross_orientation.cross_orientation_curve", responses,
                             window_ms=attrs.get("window_ms", window_ms), where=where or None))
    attrs["units"] = "spikes/s"
    return curve.rename("cross_orientation_curve").assign_attrs(attrs)


def cross_orientation_suppression(
    data: xr.DataArray,
    *,
    window_ms: Sequence[float] | None = None,
    where: Mapping[str, Any] | None = None,
    baseline: str | float | Any | None = None,
    baseline_window_ms: Sequence[float] | None = None,
    marginalize: Sequence[str] | None = None,
) -> xr.Dataset:
    """Cross-orientation suppression index versus mask contrast, per neuron.

    Parameters
    ----------
    data : xarray.DataArray
        ``Responses`` to a cross-orientation sweep (stimulus coordinates
        ``test_contrast`` and ``mask_contrast``), or the curve of
        :func:`cross_orientation_curve` (dims ``test_contrast``, ``mask_contrast`` and any
        others, e.g. ``neuron``).
    window_ms, where, marginalize
        Responses input only: as :func:`cross_orientation_curve`.
    baseline : "blank", float or array, optional
        Spontaneous rate subtracted from every response before the index: ``"blank"``
        takes the response to the blank condition (test and mask contrast 0) of each
        neuron; a scalar or one value per neuron is used as given. Default: none.
    baseline_window_ms : (float, float), optional
        Responses input: the spontaneous rate is the mean rate in this window (e.g. the
        blank before onset), over trials and stimuli, per neuron.

    Returns
    -------
    xarray.Dataset
        - ``suppression_index`` (``test_contrast``, ``mask_contrast``, ...):
          ``1 - (R(test + mask) - b) / (R(test) - b)``; 0 at mask contrast 0 by definition,
          > 0 suppression, < 0 facilitation;
        - ``r_plaid`` (same dims): the response to test + mask (the test alone at mask
          contrast 0);
        - ``r_test`` (``test_contrast``, ...): the response to the test alone;
        - ``r_mask_alone`` (``mask_contrast``, ...): the response to the mask alone (NaN
          where not shown; at mask contrast 0 the blank);
        - ``mask_drive`` (``mask_contrast``, ..., per test contrast): ``(R(mask) - b) /
          (R(test) - b)``, how much the mask alone drives the neuron relative to the test:
          suppression means most when the mask alone does not drive it;
        - ``baseline``: the rate subtracted (0 without one);
        - ``reason`` (``test_contrast``, ...): empty where the index is defined, else why it
          is NaN (``"missing test-alone response"``, ``"no response to the test above
          baseline"``).

    Raises
    ------
    ValueError
        If the coordinates are missing or out of [0, 1]; no test contrast > 0 or no
        test-alone (mask contrast 0) condition was shown; ``baseline="blank"`` without a
        blank; both ``baseline`` and ``baseline_window_ms``; malformed ``baseline``.

    Notes
    -----
    Cross-orientation suppression: a mask grating orthogonal to the preferred orientation,
    which alone barely drives a V1 neuron, reduces its response to a preferred test grating
    (Morrone, Burr & Maffei 1982 Proc R Soc Lond B 216:335-354; Priebe & Ferster 2006 Nat
    Neurosci 9:552-561 showed it in membrane potential and discussed its thalamic
    origin; Busse, Wade & Carandini 2009 Neuron 64:931-942 modelled the population
    response with divisive normalisation). The index here is the fraction of the test
    response (above baseline) removed by the mask at each mask contrast. Under divisive
    normalisation ``R = R_max c_t^n / (c50^n + c_t^n + (w c_m)^n)`` it equals
    ``(w c_m)^n / (c50^n + c_t^n + (w c_m)^n)`` (tested). Responses are averaged over the
    other stimulus parameters (e.g. test phase) before the index.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> c = xr.DataArray([[[0.0], [4.0]], [[10.0], [6.0]]],
    ...                  dims=("test_contrast", "mask_contrast", "neuron"),
    ...                  coords={"test_contrast": [0.0, 0.5], "mask_contrast": [0.0, 0.5]})
    >>> ds = cross_orientation_suppression(c)
    >>> float(ds["suppression_index"].sel(test_contrast=0.5, mask_contrast=0.5)[0])
    0.4
    """
    is_responses = isinstance(data, xr.DataArray) and set(data.dims) == {
        "trial", "stimulus", "neuron", "time"}
    if is_responses:
        curve = cross_orientation_curve(data, window_ms=window_ms, where=where,
                                        marginalize=marginalize)
    else:
        if window_ms is not None or where is not None or marginalize is not None:
            raise ValueError("window_ms: only applies to Responses input, not to a curve")
        if not isinstance(data, xr.DataArray) or _TEST not in data.dims or _MASK not in data.dims:
            raise ValueError(f"data: expected Responses or a curve with dims {(_TEST, _MASK)}, "
                             f"got {type(data).__name__}"
                             f"{' dims ' + str(tuple(data.dims)) if hasattr(data, 'dims') else ''}")
        curve = data
        for key in (_TEST, _MASK):
            if key not in curve.coords:
                raise ValueError(f"data: dimension {key!r} needs coordinate values")
            _levels(curve[key].values, key)
            if np.any(np.diff(np.asarray(curve[key].values, dtype=float)) <= 0):
                raise ValueError(f"data: {key!r} must be strictly increasing")
    curve = curve.transpose(_TEST, _MASK, ...)
    tests = np.asarray(curve[_TEST].values, dtype=float)
    masks = np.asarray(curve[_MASK].values, dtype=float)
    if not np.any(tests > 0):
        raise ValueError(f"data: no test contrast > 0 in {tests.tolist()}; a test grating is "
                         "needed")
    if not np.any(np.isclose(masks, 0.0)):
        raise ValueError(f"data: no mask contrast 0 in {masks.tolist()}; the test-alone "
                         "condition is needed")
    rest_dims = tuple(curve.dims[2:])
    rest_shape = tuple(curve.shape[2:])
    y = np.asarray(curve.values, dtype=float).reshape(tests.size, masks.size, -1)
    m = y.shape[2]
    i0 = int(np.argmin(np.abs(masks)))
    t0 = np.isclose(tests, 0.0)

    if baseline is not None and baseline_window_ms is not None:
        raise ValueError("baseline: give baseline or baseline_window_ms, not both")
    how = "none (raw responses)"
    if baseline_window_ms is not None:
        if not is_responses:
            raise ValueError("baseline_window_ms: needs a Responses array; pass baseline= with "
                             "a curve")
        counts, duration, _ = _window_counts(data, baseline_window_ms, "baseline_window_ms")
        b = _nanmean(counts, axis=(0, 1)) * (1000.0 / duration)
        b = np.broadcast_to(b, rest_shape).reshape(-1)
        how = "mean rate in baseline_window_ms"
    elif isinstance(baseline, str):
        if baseline != "blank":
            raise ValueError(f"baseline: expected 'blank', a number or one value per neuron, "
                             f"got {baseline!r}")
        if not t0.any() or np.isnan(y[t0][0, i0]).all():
            raise ValueError("baseline: 'blank' needs the blank condition (test and mask "
                             "contrast 0) in the data")
        b = y[t0][0, i0]
        how = "response to the blank (test and mask contrast 0)"
    elif baseline is None:
        b = np.zeros(m)
    else:
        arr = np.asarray(baseline.values if isinstance(baseline, xr.DataArray) else baseline,
                         dtype=float)
        if arr.ndim == 0 and math.isfinite(float(arr)):
            b = np.full(m, float(arr))
        elif arr.size == m and np.all(np.isfinite(arr)):
            b = arr.reshape(-1)
        else:
            raise ValueError(f"baseline: expected 'blank', a finite number or {m} finite values "
                             f"(one per curve), got shape {arr.shape}")
        how = "given"

    test_rows = ~t0
    r_plaid = y[test_rows]  # (n_test, n_mask, m)
    r_test = r_plaid[:, i0]  # (n_test, m)
    r_mask = y[t0][0] if t0.any() else np.full((masks.size, m), np.nan)
    missing = np.isnan(r_test)
    weak = ~missing & (r_test - b[None] <= 0)
    reason = np.full(r_test.shape, "", dtype=object)
    reason[weak] = "no response to the test above baseline"
    reason[missing] = "missing test-alone response"
    ok = ~(missing | weak)
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = np.where(ok, r_test - b[None], np.nan)
        si = 1.0 - (r_plaid - b[None, None]) / denom[:, None]
        drive = (r_mask[None] - b[None, None]) / denom[:, None]
    tdims = (_TEST, _MASK, *rest_dims)
    shape3 = (int(test_rows.sum()), masks.size, *rest_shape)
    units = curve.attrs.get("units", "")
    coords: dict[str, Any] = {_TEST: tests[test_rows], _MASK: masks}
    for name, c in curve.coords.items():
        if name not in (_TEST, _MASK) and _TEST not in c.dims and _MASK not in c.dims:
            coords[str(name)] = c
    data_vars: dict[str, Any] = {
        "suppression_index": (tdims, si.reshape(shape3), {"units": "1"}),
        "r_plaid": (tdims, r_plaid.reshape(shape3), {"units": units}),
        "r_test": ((_TEST, *rest_dims), r_test.reshape(shape3[:1] + rest_shape),
                   {"units": units}),
        "r_mask_alone": ((_MASK, *rest_dims), r_mask.reshape((masks.size, *rest_shape)),
                         {"units": units}),
        "mask_drive": (tdims, drive.reshape(shape3), {"units": "1"}),
        "baseline": (rest_dims, np.asarray(b).reshape(rest_shape), {"units": units}),
        "reason": ((_TEST, *rest_dims), reason.astype(str).reshape(shape3[:1] + rest_shape)),
    }
    attrs = _provenance("cross_orientation.cross_orientation_suppression",
                        data if is_responses else curve, baseline=how)
    if "window_ms" in curve.attrs:
        attrs["window_ms"] = curve.attrs["window_ms"]
    attrs["definition"] = "1 - (R(test + mask) - b) / (R(test) - b)"
    attrs["n_undefined"] = int((~ok).sum())
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)
