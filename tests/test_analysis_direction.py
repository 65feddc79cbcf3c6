"""Direction selectivity (neurofond.analysis.direction): closed forms on von Mises direction
tuning, rotation invariance, grids without the null direction, undefined curves."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.special import iv

from neurofond.analysis import direction_selectivity, tuning_curve
from neurofond.responses import make_responses


def von_mises(theta_deg, pref_deg, kappa, a=10.0, b=1.0):
    return b + a * np.exp(kappa * np.cos(np.deg2rad(theta_deg - pref_deg)))


def _curve(directions, rows):
    return xr.DataArray(np.asarray(rows, dtype=float).T, dims=("direction", "neuron"),
                        coords={"direction": np.asarray(directions, dtype=float),
                                "neuron_id": ("neuron", np.arange(len(rows)))},
                        attrs={"units": "spikes/s"})


@pytest.mark.parametrize("kappa", [0.3, 1.0, 2.5])
def test_von_mises_closed_forms(kappa):
    a, b = 10.0, 1.0
    dirs = np.arange(0.0, 360.0, 10.0)  # 36 directions: aliasing of the sums negligible
    prefs = [0.0, 90.0, 200.0]
    ds = direction_selectivity(_curve(dirs, [von_mises(dirs, p, kappa, a, b) for p in prefs]))
    dsi = a * np.sinh(kappa) / (b + a * np.cosh(kappa))
    gdsi = a * iv(1, kappa) / (b + a * iv(0, kappa))
    np.testing.assert_allclose(ds["dsi"].values, dsi, rtol=1e-12)
    np.testing.assert_allclose(ds["global_dsi"].values, gdsi, rtol=1e-10)
    np.testing.assert_allclose(ds["preferred_direction"].values, prefs)
    np.testing.assert_allclose(ds["vector_direction"].values, prefs, atol=1e-9)
    assert list(ds["neuron_id"].values) == [0, 1, 2]
    assert ds["preferred_direction"].attrs["units"] == "deg"
    assert ds.attrs["analysis"] == "neurofond.analysis.direction.direction_selectivity"


def test_untuned_and_orientation_only():
    dirs = np.arange(0.0, 360.0, 45.0)
    flat = np.full(dirs.size, 5.0)
    bidir = 1.0 + np.cos(np.deg2rad(2 * dirs)) ** 2  # same response to opposite directions
    ds = direction_selectivity(_curve(dirs, [flat, bidir]))
    np.testing.assert_allclose(ds["dsi"].values, [0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(ds["global_dsi"].values, [0.0, 0.0], atol=1e-15)


def test_rotation_of_grid():
    dirs = np.arange(0.0, 360.0, 30.0)
    rows = [von_mises(dirs, 60.0, 1.3), von_mises(dirs, 270.0, 0.5, b=3.0)]
    base = direction_selectivity(_curve(dirs, rows))
    for shift in (15.0, 90.0, -37.5, 720.0):
        rot = direction_selectivity(_curve(dirs + shift, rows))
        np.testing.assert_allclose(rot["dsi"].values, base["dsi"].values, rtol=1e-12)
        np.testing.assert_allclose(rot["global_dsi"].values, base["global_dsi"].values,
                                   rtol=1e-12)
        for key in ("preferred_direction", "vector_direction"):
            d = (rot[key].values - base[key].values - shift + 180.0) % 360.0 - 180.0
            np.testing.assert_allclose(d, 0.0, atol=1e-9)
    # order of the grid does not matter
    perm = np.random.default_rng(0).permutation(dirs.size)
    shuf = direction_selectivity(_curve(dirs[perm], [r[perm] for r in rows]))
    np.testing.assert_allclose(shuf["dsi"].values, base["dsi"].values)


def test_grid_without_null_direction():
    dirs = np.array([0.0, 60.0, 120.0, 240.0])  # 0 has 180 missing
    rows = [von_mises(dirs, 0.0, 1.0)]
    with pytest.raises(ValueError, match="lacks the null direction"):
        direction_selectivity(_curve(dirs, rows))
    ds = direction_selectivity(_curve(dirs, rows), interpolate=True)
    # null = 180 deg, halfway between 120 and 240: linear interpolation
    r_null = 0.5 * (rows[0][2] + rows[0][3])
    np.testing.assert_allclose(ds["r_null"].values[0], r_null)
    np.testing.assert_allclose(ds["dsi"].values[0],
                               (rows[0][0] - r_null) / (rows[0][0] + r_null))
    assert np.isnan(ds["global_dsi"].values[0])  # uneven grid
    assert "not evenly spaced" in ds.attrs["global_dsi_note"]
    assert "interpolated" in ds.attrs["null_direction"]
    with pytest.raises(ValueError, match="repeat"):
        direction_selectivity(_curve([0.0, 90.0, 360.0, 180.0], [np.ones(4)]))
    with pytest.raises(ValueError, match="no dimension"):
        direction_selectivity(_curve(dirs, rows).rename(direction="orientation"))


def test_undefined_curves_nan_with_reason():
    dirs = np.arange(0.0, 360.0, 90.0)
    ds = direction_selectivity(_curve(dirs, [np.zeros(4), [1.0, np.nan, 1, 1],
                                             [1.0, -0.5, 1, 1], [3.0, 1, 1, 1]]))
    assert np.isnan(ds["dsi"].values[:3]).all() and np.isnan(ds["global_dsi"].values[:3]).all()
    assert list(ds["reason"].values) == ["all-zero curve", "missing values", "negative values",
                                         ""]
    assert ds.attrs["n_undefined"] == 3
    np.testing.assert_allclose(ds["dsi"].values[3], 0.5)


def test_from_responses_with_trials_kept():
    rng = np.random.default_rng(1)
    dirs = np.arange(0.0, 360.0, 45.0)
    lam = np.stack([von_mises(dirs, 90.0, 1.5, a=2.0, b=0.5)] * 3, -1)  # (stim, neuron)
    counts = rng.poisson(lam[None, :, :, None], (400, dirs.size, 3, 5))
    resp = make_responses(counts, bin_ms=10.0, stimulus_coords={
        "direction": dirs, "orientation": dirs % 180})
    ds = direction_selectivity(tuning_curve(resp, "direction"))
    expected = direction_selectivity(_curve(dirs, lam.T))
    np.testing.assert_allclose(ds["dsi"].values, expected["dsi"].values, atol=0.03)
    assert (ds["preferred_direction"].values == 90.0).all()
    assert ds.attrs["window_ms"] == (0.0, 50.0)
    single = direction_selectivity(tuning_curve(resp, "direction", average=()))
    assert single["dsi"].dims == ("trial", "neuron")
