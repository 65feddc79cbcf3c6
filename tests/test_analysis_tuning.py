"""Tests of neurofond.analysis.tuning: tuning curves, orientation / SF selectivity, F1/F0."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurofond.analysis import (
    modulation_ratio,
    orientation_selectivity,
    sf_selectivity,
    tuning_curve,
)
from neurofond.responses import make_responses

ORI = np.arange(0.0, 180.0, 15.0)


def grid_responses(rng: np.random.Generator | None = None) -> xr.DataArray:
    """3 trials x (4 ori x 2 sf) x 2 neurons x 10 bins of 10 ms; count = f(ori, sf, neuron)."""
    ori = np.repeat([0.0, 45.0, 90.0, 135.0], 2)
    sf = np.tile([1.0, 4.0], 4)
    counts = np.zeros((3, 8, 2, 10))
    for s in range(8):
        counts[:, s, 0, :] = 1 + (ori[s] == 45.0) + (sf[s] == 4.0)
        counts[:, s, 1, :] = 2 * (ori[s] == 90.0)
    return make_responses(
        counts,
        bin_ms=10.0,
        stimulus_coords={"orientation": ori, "sf": sf},
        neuron_coords={"neuron_id": ["a", "b"], "depth": [1.0, 2.0]},
    )


def cosine_curve(a: float, b: float, theta0: float, theta: np.ndarray = ORI) -> xr.DataArray:
    vals = a + b * np.cos(np.deg2rad(2 * (theta - theta0)))
    return xr.DataArray(vals, dims="orientation", coords={"orientation": theta})


def von_mises(kappa: float, theta0: float, theta: np.ndarray) -> xr.DataArray:
    vals = np.exp(kappa * (np.cos(np.deg2rad(2 * (theta - theta0))) - 1))
    return xr.DataArray(vals, dims="orientation", coords={"orientation": theta})


# ------------------------------------------------------------------------------ tuning_curve


def test_tuning_curve_marginalises_and_converts_to_rate():
    r = grid_responses()
    curve = tuning_curve(r, "orientation")
    assert curve.dims == ("orientation", "neuron")
    np.testing.assert_array_equal(curve["orientation"].values, [0, 45, 90, 135])
    # neuron a: count per 10 ms bin = 1 + [ori==45] + [sf==4]; mean over sf adds 0.5
    expected_a = (np.array([1, 2, 1, 1]) + 0.5) * 100.0  # spikes/s
    np.testing.assert_allclose(curve.sel(neuron=0).values, expected_a)
    np.testing.assert_allclose(curve.isel(neuron=1).values, [0, 0, 200, 0])
    assert list(curve["neuron_id"].values) == ["a", "b"]
    assert curve.attrs["units"] == "spikes/s"
    assert curve.attrs["by"] == "orientation"


def test_tuning_curve_where_conditions_and_window():
    r = grid_responses()
    curve = tuning_curve(r, "orientation", where={"sf": 4.0}, window_ms=(20, 60))
    np.testing.assert_allclose(curve.isel(neuron=0).values, [200, 300, 200, 200])
    by_sf = tuning_curve(r, "sf", where={"orientation": [45.0, 90.0]})
    np.testing.assert_allclose(by_sf.isel(neuron=0).values, [150, 250])


def test_tuning_curve_ignores_missing_trials():
    r = grid_responses().astype(float)
    vals = r.values.copy()
    vals[0, :, 0, :] = np.nan  # trial 0 missing for neuron a
    vals[1, :, 0, :] = 50.0  # make the remaining trials differ
    r2 = make_responses(
        vals,
        bin_ms=10.0,
        stimulus_coords={"orientation": r["orientation"].values, "sf": r["sf"].values},
        allow_nan=True,
    )
    curve = tuning_curve(r2, "orientation")
    manual = np.nanmean(vals[:, :, 0, :].sum(-1), axis=0) * 10.0  # rate per stimulus
    np.testing.assert_allclose(curve.isel(neuron=0).values, manual.reshape(4, 2).mean(1))
    assert np.all(np.isfinite(curve.values))


def test_tuning_curve_invariant_to_stimulus_permutation():
    r = grid_responses()
    perm = np.random.default_rng(3).permutation(r.sizes["stimulus"])
    xr.testing.assert_allclose(
        tuning_curve(r, "orientation"), tuning_curve(r.isel(stimulus=perm), "orientation")
    )


def test_tuning_curve_average_options():
    r = grid_responses()
    per_trial = tuning_curve(r, "orientation", average=())
    assert per_trial.dims == ("trial", "orientation", "neuron")
    pooled = tuning_curve(r, "orientation", average=("trial", "neuron"))
    assert pooled.dims == ("orientation",)
    np.testing.assert_allclose(pooled.values, tuning_curve(r, "orientation").mean("neuron"))


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"by": "contrast"}, "by"),
        ({"where": {"speed": 1}}, "where"),
        ({"where": {"sf": 99.0}}, "where"),
        ({"window_ms": (50, 500)}, "window_ms"),
        ({"window_ms": (50, 20)}, "window_ms"),
        ({"average": ("stimulus",)}, "average"),
    ],
)
def test_tuning_curve_errors_name_the_argument(kwargs, word):
    with pytest.raises(ValueError, match=word):
        tuning_curve(grid_responses(), **kwargs)


def test_invalid_responses_rejected():
    r = grid_responses()
    with pytest.raises(ValueError, match="responses"):
        tuning_curve(r.transpose("stimulus", "trial", "neuron", "time"))
    empty = xr.DataArray(np.zeros((0, 2, 2, 3)), dims=r.dims, attrs={"bin_ms": 10.0})
    with pytest.raises(ValueError, match="zero trials"):
        tuning_curve(empty)
    neg = r.copy(data=-r.values)
    with pytest.raises(ValueError, match="negative"):
        tuning_curve(neg)


# --------------------------------------------------------------------- orientation selectivity


def test_circular_variance_osi_of_cosine_curve():
    a, b, theta0 = 10.0, 4.0, 30.0
    ds = orientation_selectivity(cosine_curve(a, b, theta0))
    assert float(ds["circular_variance"]) == pytest.approx(1 - b / (2 * a), abs=1e-12)
    assert float(ds["global_osi"]) == pytest.approx(b / (2 * a), abs=1e-12)
    assert float(ds["osi"]) == pytest.approx(b / a, abs=1e-12)
    assert float(ds["orthogonal_preferred_ratio"]) == pytest.approx((a - b) / (a + b))
    assert float(ds["preferred_orientation"]) == 30.0
    assert float(ds["preferred_orientation_vector"]) == pytest.approx(30.0, abs=1e-9)


def test_selectivity_invariances():
    rng = np.random.default_rng(0)
    vals = rng.uniform(0, 10, (ORI.size, 5))
    curve = xr.DataArray(vals, dims=("orientation", "neuron"), coords={"orientation": ORI})
    base = orientation_selectivity(curve)
    scaled = orientation_selectivity(curve * 7.5)
    for key in ("circular_variance", "osi", "orthogonal_preferred_ratio", "bandwidth"):
        np.testing.assert_allclose(scaled[key], base[key], rtol=1e-9, equal_nan=True)
    perm = rng.permutation(ORI.size)
    shuffled = orientation_selectivity(curve.isel(orientation=perm))
    xr.testing.assert_allclose(shuffled, base)
    # neuron-major layout gives the same numbers
    xr.testing.assert_allclose(orientation_selectivity(curve.T), base)


def test_bandwidth_of_von_mises_matches_closed_form():
    kappa = 2.0
    expected = 0.5 * np.degrees(np.arccos(1 - np.log(2) / (2 * kappa)))  # half-width at 1/sqrt2
    theta = np.arange(0.0, 180.0, 5.0)
    ds = orientation_selectivity(von_mises(kappa, 40.0, theta), smoothing=None)
    assert float(ds["bandwidth"]) == pytest.approx(expected, abs=0.3)
    # Brain-Score-like smoothing widens it, but only slightly at 5 deg sampling
    smooth = float(orientation_selectivity(von_mises(kappa, 40.0, theta))["bandwidth"])
    assert expected < smooth < expected + 2.0


def test_unselective_curve():
    flat = cosine_curve(5.0, 0.0, 0.0)
    ds = orientation_selectivity(flat)
    assert float(ds["circular_variance"]) == pytest.approx(1.0)
    assert np.isnan(float(ds["bandwidth"]))
    zero = cosine_curve(0.0, 0.0, 0.0)
    assert np.isnan(float(orientation_selectivity(zero)["circular_variance"]))


def test_direction_period_360():
    theta = np.arange(0.0, 360.0, 30.0)
    curve = xr.DataArray(
        1 + np.cos(np.deg2rad(theta - 60.0)), dims="direction", coords={"direction": theta}
    )
    ds = orientation_selectivity(curve, dim="direction", period=360.0)
    assert float(ds["preferred_orientation"]) == 60.0
    # orthogonal = mean of the responses at 150 and -30 deg
    assert float(ds["orthogonal_rate"]) == pytest.approx(1.0)


def test_orientation_selectivity_errors():
    c = cosine_curve(3, 1, 0)
    with pytest.raises(ValueError, match="orientation"):
        orientation_selectivity(c.rename(orientation="ori"))
    with pytest.raises(ValueError, match="NaN"):
        orientation_selectivity(c.where(c.orientation != 15.0))
    with pytest.raises(ValueError, match="negative"):
        orientation_selectivity(c - 10)
    uneven = c.isel(orientation=[0, 1, 2, 5, 9])
    with pytest.raises(ValueError, match="smoothing"):
        orientation_selectivity(uneven)
    assert np.isfinite(float(orientation_selectivity(uneven, smoothing=None)["osi"]))
    with pytest.raises(ValueError, match="period"):
        orientation_selectivity(c, period=90.0)


def test_matches_brainscore_properties(brainscore_env):
    props = pytest.importorskip("brainscore_vision.benchmark_helpers.properties_common")
    rng = np.random.default_rng(5)
    for _ in range(5):
        kappa, theta0 = rng.uniform(0.8, 4.0), rng.uniform(0, 180)
        curve = von_mises(kappa, theta0, ORI) * 20 + rng.uniform(0, 2)
        ds = orientation_selectivity(curve)
        y = curve.values
        assert float(ds["circular_variance"]) == pytest.approx(
            props.calc_circular_variance(y, ORI), abs=1e-12
        )
        bw = props.calc_bandwidth(y, ORI, filt_type="hanning", thrsh=0.707, mode="half")[0]
        assert float(ds["bandwidth"]) == pytest.approx(bw, abs=1.0)
        assert float(ds["orthogonal_preferred_ratio"]) == pytest.approx(
            props.calc_orthogonal_preferred_ratio(y, ORI)
        )


# -------------------------------------------------------------------------- spatial frequency


def test_sf_bandwidth_of_log_gaussian():
    sf = 2.0 ** np.linspace(-1.375, 3.875, 22)  # Marques2020 grid
    sigma, f0 = 0.8, 2.5
    rng = np.random.default_rng(1)
    curve = xr.DataArray(
        np.exp(-(np.log2(sf / f0) ** 2) / (2 * sigma**2)), dims="sf", coords={"sf": sf}
    )
    ds = sf_selectivity(curve * 30)
    assert float(ds["bandwidth_octaves"]) == pytest.approx(2 * sigma * np.sqrt(np.log(2)), abs=0.02)
    assert float(ds["peak_sf"]) == pytest.approx(f0, rel=0.02)
    perm = rng.permutation(sf.size)
    xr.testing.assert_allclose(sf_selectivity(curve.isel(sf=perm)), sf_selectivity(curve))


def test_sf_lowpass_has_no_bandwidth():
    sf = 2.0 ** np.arange(-1, 4, 0.5)
    curve = xr.DataArray(np.exp(-sf / 4), dims="sf", coords={"sf": sf})
    ds = sf_selectivity(curve)
    assert np.isnan(float(ds["sf_low"])) and np.isnan(float(ds["bandwidth_octaves"]))
    assert np.isfinite(float(ds["sf_high"]))
    with pytest.raises(ValueError, match="sf"):
        sf_selectivity(curve.assign_coords(sf=-sf))


# -------------------------------------------------------------------------- modulation ratio


def drifting(a: np.ndarray, b: np.ndarray, tf_hz: float, n_bins: int = 100) -> xr.DataArray:
    """Float 'counts' a + b cos(2 pi tf t) per 10 ms bin, one stimulus per (a, b)."""
    t = (np.arange(n_bins) + 0.5) * 10.0
    counts = a[:, None] + b[:, None] * np.cos(2 * np.pi * tf_hz * t / 1000.0)
    return make_responses(
        np.broadcast_to(counts[None, :, None, :], (2, a.size, 1, n_bins)),
        bin_ms=10.0,
        stimulus_coords={"tf": np.full(a.size, tf_hz)},
    )


def test_modulation_ratio_closed_form():
    a, b = np.array([2.0, 1.0, 3.0]), np.array([1.0, 1.0, 0.0])
    ds = modulation_ratio(drifting(a, b, 4.0), 4.0)
    np.testing.assert_allclose(ds["modulation_ratio"].values[:, 0], b / a, atol=1e-12)
    np.testing.assert_allclose(ds["f0"].values[:, 0], a * 100.0)
    assert ds["n_cycles"].values.tolist() == [4, 4, 4]
    # the coordinate form and whole cycles inside a window (2 Hz: 500 ms cycle)
    ds2 = modulation_ratio(drifting(a, b, 2.0), "tf", window_ms=(0, 700))
    np.testing.assert_allclose(ds2["modulation_ratio"].values[:, 0], b / a, atol=1e-12)
    assert ds2["n_cycles"].values.tolist() == [1, 1, 1]


def test_modulation_ratio_static_and_errors():
    r = drifting(np.array([2.0]), np.array([1.0]), 4.0)
    ds = modulation_ratio(r, [0.0])
    assert np.isnan(float(ds["modulation_ratio"][0, 0]))
    with pytest.raises(ValueError, match="tf_hz"):
        modulation_ratio(r, -1.0)
    with pytest.raises(ValueError, match="tf_hz"):
        modulation_ratio(r, "speed")
    with pytest.raises(ValueError, match="window_ms"):
        modulation_ratio(r, 4.0, window_ms=(0, 100))
