"""Tests of neurofond.analysis.contrast: Naka-Rushton function and its fit."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurofond.analysis import fit_naka_rushton, naka_rushton, tuning_curve
from neurofond.responses import make_responses

CONTRASTS = np.array([0.0, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0])


def test_naka_rushton_closed_form():
    assert float(naka_rushton(0.3, 12.0, 0.3, 2.0, 1.0)) == pytest.approx(7.0)  # half + r0
    assert float(naka_rushton(0.0, 12.0, 0.3, 2.0, 1.0)) == pytest.approx(1.0)
    big = naka_rushton(1e6, 12.0, 0.3, 2.0, 1.0)
    assert float(big) == pytest.approx(13.0)
    with pytest.raises(ValueError, match="c50"):
        naka_rushton(0.5, 1.0, 0.0, 2.0)
    with pytest.raises(ValueError, match="c:"):
        naka_rushton(-0.1, 1.0, 0.2, 2.0)


def test_fit_recovers_parameters_noise_free():
    truth = np.array([[20.0, 0.15, 2.5, 2.0], [8.0, 0.4, 1.5, 0.0], [50.0, 0.05, 3.5, 5.0]])
    y = np.stack([naka_rushton(CONTRASTS, *p) for p in truth], axis=1)
    fit = fit_naka_rushton(CONTRASTS, y)
    got = np.stack([fit[k].values for k in ("r_max", "c50", "n", "r0")], axis=1)
    np.testing.assert_allclose(got, truth, rtol=1e-3, atol=1e-3)
    assert np.all(fit["r2"].values > 0.999999)
    assert fit["success"].values.all()


def test_fit_recovers_parameters_with_noise():
    rng = np.random.default_rng(0)
    c = np.repeat(CONTRASTS[1:], 1)
    truth = (30.0, 0.2, 2.0, 3.0)
    y = naka_rushton(c, *truth)[:, None] + rng.normal(0, 0.3, (c.size, 20))
    fit = fit_naka_rushton(c, y)
    assert np.median(fit["c50"]) == pytest.approx(0.2, rel=0.1)
    assert np.median(fit["n"]) == pytest.approx(2.0, rel=0.15)
    assert np.median(fit["r_max"]) == pytest.approx(30.0, rel=0.1)
    assert np.median(fit["r2"]) > 0.99


def test_fit_from_tuning_curve_and_nan_entries():
    rates = naka_rushton(CONTRASTS, 10.0, 0.2, 2.0, 1.0)  # spikes/s; 100 ms bins -> counts
    counts = np.broadcast_to((rates * 0.1)[None, :, None, None], (2, CONTRASTS.size, 2, 1))
    r = make_responses(
        counts,
        bin_ms=100.0,
        stimulus_coords={"contrast": CONTRASTS},
        neuron_coords={"neuron_id": ["x", "y"]},
    )
    curve = tuning_curve(r, "contrast")
    fit = fit_naka_rushton(None, curve)
    assert list(fit["neuron_id"].values) == ["x", "y"]
    np.testing.assert_allclose(fit["c50"].values, 0.2, rtol=1e-3)
    y = curve.values.copy()
    y[3, 0] = np.nan  # one missing contrast: still 7 points
    y[:5, 1] = np.nan  # only 3 points left: NaN
    fit2 = fit_naka_rushton(CONTRASTS, y)
    assert fit2["c50"].values[0] == pytest.approx(0.2, rel=1e-3)
    assert np.isnan(fit2["c50"].values[1])


def test_fit_errors():
    with pytest.raises(ValueError, match="contrasts"):
        fit_naka_rushton([0.1, 0.2, 0.3], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="contrasts"):
        fit_naka_rushton(-CONTRASTS, np.ones(CONTRASTS.size))
    with pytest.raises(ValueError, match="responses_per_neuron"):
        fit_naka_rushton(CONTRASTS, np.ones(3))
    with pytest.raises(ValueError, match="bounds"):
        fit_naka_rushton(CONTRASTS, np.ones(CONTRASTS.size), bounds={"gain": (0, 1)})
    with pytest.raises(ValueError, match="responses_per_neuron"):
        fit_naka_rushton(None, xr.DataArray(np.ones(8), dims="ori"))


# --------------------------------------------------------------- fit quality flags (14.6)


def test_fits_at_a_bound_or_with_c50_outside_the_tested_range_are_flagged():
    truth = np.array([
        [20.0, 0.15, 2.5, 2.0],  # well determined
        [8.0, 0.4, 1.5, 0.0],  # r0 = 0: at the default lower bound, but a valid rate
        [10.0, 3.0, 2.0, 1.0],  # c50 above the highest tested contrast: extrapolation
        [10.0, 0.005, 2.0, 1.0],  # saturated below the lowest contrast: c50 and n at bounds
        [10.0, 0.3, 15.0, 1.0],  # steeper than the n bound (10)
    ])
    y = np.stack([naka_rushton(CONTRASTS, *p) for p in truth], axis=1)
    fit = fit_naka_rushton(CONTRASTS, y)
    np.testing.assert_array_equal(fit["flagged"].values, [False, False, True, True, True])
    np.testing.assert_array_equal(fit["at_bound"].values, [False, False, False, True, True])
    np.testing.assert_array_equal(fit["c50_in_range"].values, [True, True, False, False, True])
    reasons = fit["flag_reason"].values
    assert reasons[0] == "" == reasons[1]
    assert "c50 = 3 outside the tested contrasts [0.02, 1]" in reasons[2]
    assert "c50 at its lower bound" in reasons[3] and "n at its lower bound" in reasons[3]
    assert reasons[4] == "n at its upper bound (10)"
    assert fit["n"].values[4] == pytest.approx(10.0)  # the value is still returned, flagged
    assert fit.attrs["n_flagged"] == 3 and fit.attrs["n_at_bound"] == 2
    assert fit.attrs["n_c50_outside_range"] == 2


def test_user_bounds_are_flagged_when_hit_and_too_few_points_are_flagged():
    y = naka_rushton(CONTRASTS, 20.0, 0.15, 2.5, 2.0)
    fit = fit_naka_rushton(CONTRASTS, y, bounds={"n": (1.0, 2.0)})
    assert bool(fit["at_bound"][0]) and "n at its upper bound (2)" in str(fit["flag_reason"][0])
    few = y.copy()
    few[:5] = np.nan
    fit = fit_naka_rushton(CONTRASTS, few)
    assert bool(fit["flagged"][0]) and np.isnan(float(fit["c50"][0]))
    assert "fewer than 4" in str(fit["flag_reason"][0])
