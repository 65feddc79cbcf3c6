"""Tests for neurofond.analysis.spatial_integration (size tuning, surround suppression)."""

import numpy as np
import pytest
import xarray as xr
from scipy.special import erf

from neurofond.analysis.spatial_integration import doe_size_curve, size_tuning
from neurofond.responses import make_responses

SIZES = np.array([0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])


def _curve(values, sizes=SIZES):
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    return xr.DataArray(values, dims=("size_deg", "neuron"),
                        coords={"size_deg": sizes, "neuron_id": ("neuron",
                                                                 np.arange(values.shape[1]))},
                        attrs={"units": "spikes/s"})


def _normalisation(d, r_max=60.0, wc=1.0, ws=3.0, ks=1.5, spont=5.0):
    """Ratio-of-Gaussians-like divisive normalisation: centre drive / (1 + surround)."""
    return spont + r_max * erf(d / wc) ** 2 / (1.0 + ks * erf(d / ws) ** 2)


# --------------------------------------------------------------------------- closed forms


def test_known_si_and_peak_on_a_synthetic_curve():
    # peak 40 at 1 deg, 16 at the largest size, baseline 8 -> SI = (40 - 16) / (40 - 8) = 0.75
    y = [10, 25, 35, 40, 30, 24, 20, 18, 16]
    ds = size_tuning(_curve(y), baseline=8.0)
    assert float(ds["preferred_size_deg"][0]) == 1.0
    assert float(ds["si"][0]) == pytest.approx(0.75)
    assert float(ds["r_peak"][0]) == 40 and float(ds["r_largest"][0]) == 16
    assert ds["si"].attrs["units"] == "1" and ds["preferred_size_deg"].attrs["units"] == "deg"
    assert "Cavanaugh" in ds.attrs["si_definition"] and ds.attrs["baseline"] == "given"
    # without a baseline: raw responses, SI = 24 / 40
    assert float(size_tuning(_curve(y))["si"][0]) == pytest.approx(0.6)


def test_monotone_curve_has_no_suppression_and_peaks_at_the_largest_size():
    ds = size_tuning(_curve(np.linspace(5, 50, SIZES.size)), baseline=5.0)
    assert float(ds["si"][0]) == 0.0 and float(ds["preferred_size_deg"][0]) == 6.0


def test_response_below_spontaneous_gives_si_above_one():
    ds = size_tuning(_curve([10, 30, 20, 8, 6, 5, 4, 3, 2]), baseline=10.0)
    assert float(ds["si"][0]) == pytest.approx((30 - 2) / (30 - 10))


def test_ties_pick_the_smallest_size_and_uneven_sizes_are_fine():
    sizes = np.array([0.1, 0.3, 0.35, 2.0, 9.0])
    ds = size_tuning(_curve([1, 5, 5, 3, 2], sizes))
    assert float(ds["preferred_size_deg"][0]) == 0.3


def test_si_is_invariant_to_gain_and_to_an_offset_shared_with_the_baseline():
    y = _normalisation(SIZES)
    base = size_tuning(_curve(y), baseline=5.0)
    scaled = size_tuning(_curve(3 * y), baseline=15.0)
    shifted = size_tuning(_curve(y + 7), baseline=12.0)
    for ds in (scaled, shifted):
        assert float(ds["si"][0]) == pytest.approx(float(base["si"][0]), rel=1e-12)
        assert float(ds["preferred_size_deg"][0]) == float(base["preferred_size_deg"][0])


def test_several_neurons_and_per_neuron_baselines():
    y = np.stack([_normalisation(SIZES, ks=k) for k in (0.0, 0.5, 2.0)], axis=1)
    ds = size_tuning(_curve(y), baseline=np.array([5.0, 5.0, 5.0]))
    si = ds["si"].values
    assert si[0] == pytest.approx(0.0, abs=1e-12)  # no surround: monotone
    assert si[0] < si[1] < si[2]  # stronger surround, more suppression
    assert ds["curve"].dims == ("size_deg", "neuron") and ds["si"].dims == ("neuron",)
    np.testing.assert_array_equal(ds["neuron_id"].values, [0, 1, 2])


# --------------------------------------------------------------------------- fits


def test_doe_fit_recovers_known_extents():
    truth = dict(r0=4.0, kc=50.0, wc=0.8, ks=30.0, ws=3.0)
    sizes = np.geomspace(0.1, 12.0, 12)
    ds = size_tuning(_curve(doe_size_curve(sizes, **truth), sizes), baseline=4.0, fit=True)
    assert bool(ds["fit_ok"][0]), str(ds["fit_reason"].values[0])
    assert float(ds["fit_r2"][0]) > 0.9999
    assert float(ds["fit_center_deg"][0]) == pytest.approx(0.8, rel=0.02)
    assert float(ds["fit_surround_deg"][0]) == pytest.approx(3.0, rel=0.02)
    # the fitted peak is the grid-free preferred size of the model curve
    fine = np.geomspace(0.1, 12.0, 100000)
    true_peak = fine[np.argmax(doe_size_curve(fine, **truth))]
    assert float(ds["fit_preferred_size_deg"][0]) == pytest.approx(true_peak, rel=0.02)
    model = doe_size_curve(fine, **truth)
    true_si = (model.max() - model[-1]) / (model.max() - 4.0)
    assert float(ds["fit_si"][0]) == pytest.approx(true_si, abs=0.01)


def test_failed_or_impossible_fits_are_flagged():
    rng = np.random.default_rng(0)
    noise = rng.uniform(10, 20, SIZES.size)
    ds = size_tuning(_curve(noise), fit=True, min_r2=0.99)
    assert not bool(ds["fit_ok"][0]) and ds["fit_reason"].values[0] != ""
    few = size_tuning(_curve([1.0, 3.0, 2.0], SIZES[:3]), fit=True)
    assert not bool(few["fit_ok"][0]) and "fewer than" in str(few["fit_reason"].values[0])
    assert np.isfinite(float(few["si"][0]))  # the index does not need the fit
    zero = size_tuning(_curve(np.zeros(SIZES.size)), fit=True)
    assert "not fitted" in str(zero["fit_reason"].values[0])


# --------------------------------------------------------------------------- Responses input


def test_simulated_poisson_neurons_recover_the_ground_truth_si():
    """Poisson neurons with a known divisive-normalisation surround, 4 phases, 200 trials."""
    rng = np.random.default_rng(1)
    ks = np.array([0.0, 0.6, 1.5, 3.0])
    phases = np.array([0.0, 90.0, 180.0, 270.0])
    size_col = np.repeat(SIZES, phases.size)
    phase_col = np.tile(phases, SIZES.size)
    rates = np.stack([_normalisation(size_col, ks=k) for k in ks], axis=1)  # (stim, neuron)
    spont = 5.0
    n_trials, bin_ms = 200, 100.0
    lam = np.concatenate([np.full((size_col.size, ks.size, 2), spont),
                          np.repeat(rates[..., None], 5, axis=2)], axis=2) * bin_ms / 1000
    counts = rng.poisson(lam, size=(n_trials, *lam.shape))
    resp = make_responses(counts, bin_ms=bin_ms, time_start_ms=-200.0,
                          stimulus_coords={"size_deg": size_col, "phase": phase_col},
                          source="simulated")
    ds = size_tuning(resp, window_ms=(0, 500), baseline_window_ms=(-200, 0))
    truth = np.stack([_normalisation(SIZES, ks=k) for k in ks], axis=1)
    true_si = (truth.max(0) - truth[-1]) / (truth.max(0) - spont)
    np.testing.assert_allclose(ds["si"].values, true_si, atol=0.03)
    np.testing.assert_allclose(ds["baseline"].values, spont, rtol=0.05)
    # the sampled peak is the true one wherever the true curve has a clear peak
    true_pref = SIZES[np.argmax(truth, axis=0)]
    clear = (np.sort(truth, 0)[-1] - np.sort(truth, 0)[-2]) > 2.0
    np.testing.assert_array_equal(ds["preferred_size_deg"].values[clear], true_pref[clear])
    assert ds.attrs["window_ms"] == (0.0, 500.0)
    assert ds.attrs["baseline"].startswith("mean rate in baseline_window_ms")


def test_responses_input_is_the_tuning_curve_of_the_size_coordinate():
    rng = np.random.default_rng(2)
    counts = rng.poisson(3.0, size=(5, SIZES.size * 2, 3, 4))
    resp = make_responses(counts, bin_ms=10.0, stimulus_coords={
        "size_deg": np.repeat(SIZES, 2), "sf": np.tile([1.0, 2.0], SIZES.size)})
    ds = size_tuning(resp, where={"sf": 2.0})
    expected = counts[:, 1::2].sum(-1).mean(0) * 1000 / 40.0
    np.testing.assert_allclose(ds["curve"].values, expected)


# --------------------------------------------------------------------------- bad input


def test_bad_curves_raise():
    with pytest.raises(ValueError, match="at least 2 sizes"):
        size_tuning(_curve([3.0], SIZES[:1]))
    with pytest.raises(ValueError, match="strictly increasing"):
        size_tuning(_curve([1.0, 2.0, 3.0], np.array([0.5, 2.0, 1.0])))
    with pytest.raises(ValueError, match="strictly increasing"):
        size_tuning(_curve([1.0, 2.0, 3.0], np.array([0.5, 1.0, 1.0])))
    with pytest.raises(ValueError, match="> 0 deg"):
        size_tuning(_curve([1.0, 2.0], np.array([0.0, 1.0])))
    with pytest.raises(ValueError, match="non-finite"):
        size_tuning(_curve([1.0, 2.0], np.array([1.0, np.inf])))
    with pytest.raises(ValueError, match="no dimension"):
        size_tuning(_curve([1.0, 2.0], np.array([1.0, 2.0])).rename(size_deg="radius"))
    with pytest.raises(ValueError, match="tuning curve"):
        size_tuning(np.ones(4))


def test_bad_baselines_and_windows_raise():
    c = _curve(np.arange(1.0, 10.0))
    with pytest.raises(ValueError, match="not both"):
        size_tuning(c, baseline=1.0, baseline_window_ms=(-100, 0))
    with pytest.raises(ValueError, match="baseline_window_ms"):
        size_tuning(c, baseline_window_ms=(-100, 0))
    with pytest.raises(ValueError, match="baseline"):
        size_tuning(c, baseline=[1.0, 2.0])
    with pytest.raises(ValueError, match="baseline"):
        size_tuning(c, baseline=np.nan)
    with pytest.raises(ValueError, match="window_ms"):
        size_tuning(c, window_ms=(0, 100))
    resp = make_responses(np.ones((2, 2, 1, 5)), bin_ms=10.0,
                          stimulus_coords={"size_deg": [0.5, 1.0]})
    with pytest.raises(ValueError, match="window_ms"):
        size_tuning(resp, window_ms=(5, 45))  # an edge cuts a bin (the one window rule)
    with pytest.raises(ValueError, match="unknown stimulus coordinate"):
        size_tuning(resp, dim="diameter")


def test_undefined_indices_are_nan_with_a_reason():
    y = np.stack([np.zeros(SIZES.size),                      # all zero
                  np.r_[np.nan, np.ones(SIZES.size - 1)],     # missing condition
                  np.full(SIZES.size, 3.0),                   # at baseline
                  np.r_[-1.0, np.ones(SIZES.size - 1)],       # negative (signed activation)
                  _normalisation(SIZES)], axis=1)
    ds = size_tuning(_curve(y), baseline=np.array([0.0, 0.0, 3.0, 0.0, 5.0]))
    assert ds["reason"].values.tolist() == [
        "all-zero curve", "missing values", "no response above baseline", "negative values", ""]
    assert np.isnan(ds["si"].values[:4]).all() and np.isfinite(ds["si"].values[4])
    assert ds.attrs["n_undefined"] == 4


def test_result_is_serialisable_to_netcdf(tmp_path):
    """attrs and variables (bool flags, reasons) survive a netCDF round trip."""
    ds = size_tuning(_curve(_normalisation(SIZES)), baseline=5.0, fit=True)
    path = tmp_path / "size.nc"
    ds.to_netcdf(path)
    back = xr.open_dataset(path).load()
    np.testing.assert_allclose(back["si"].values, ds["si"].values)
    assert back.attrs["fit"] == 1 and bool(back["fit_ok"][0]) == bool(ds["fit_ok"][0])
