"""Tests for neurofond.analysis.cross_orientation (cross-orientation suppression)."""

import numpy as np
import pytest
import xarray as xr

from neurofond.analysis.cross_orientation import (
    cross_orientation_curve,
    cross_orientation_suppression,
)
from neurofond.responses import make_responses
from neurofond.stimuli import ScreenGeometry
from neurofond.stimuli.spatial_sweeps import cross_orientation_sweep

TESTS = np.array([0.0, 0.25, 0.5])
MASKS = np.array([0.0, 0.125, 0.25, 0.5])


def _normalisation(ct, cm, r_max=80.0, c50=0.2, n=2.0, w=1.0, w_mask_drive=0.0, spont=4.0):
    """Divisive normalisation (Busse et al. 2009 form): the mask only adds to the pool."""
    ct, cm = np.asarray(ct, float), np.asarray(cm, float)
    drive = ct**n + (w_mask_drive * cm) ** n
    return spont + r_max * drive / (c50**n + ct**n + (w * cm) ** n)


def _closed_form_si(ct, cm, c50=0.2, n=2.0, w=1.0):
    return (w * cm) ** n / (c50**n + ct**n + (w * cm) ** n)


def _grid(values_fn, **kw):
    ct, cm = np.meshgrid(TESTS, MASKS, indexing="ij")
    y = values_fn(ct, cm, **kw)[..., None]
    return xr.DataArray(y, dims=("test_contrast", "mask_contrast", "neuron"),
                        coords={"test_contrast": TESTS, "mask_contrast": MASKS},
                        attrs={"units": "spikes/s"})


def test_closed_form_under_divisive_normalisation():
    ds = cross_orientation_suppression(_grid(_normalisation), baseline="blank")
    ct, cm = np.meshgrid(TESTS[1:], MASKS, indexing="ij")
    np.testing.assert_allclose(ds["suppression_index"].values[..., 0], _closed_form_si(ct, cm),
                               rtol=1e-12)
    np.testing.assert_allclose(ds["suppression_index"].values[:, 0, 0], 0.0)
    # more mask contrast, more suppression; a stronger test resists it more
    si = ds["suppression_index"].values[..., 0]
    assert np.all(np.diff(si, axis=1) > 0) and np.all(si[1, 1:] < si[0, 1:])
    assert float(ds["baseline"][0]) == pytest.approx(4.0)
    np.testing.assert_allclose(ds["r_mask_alone"].values[:, 0], 4.0)  # mask alone: no drive
    np.testing.assert_allclose(ds["mask_drive"].values, 0.0, atol=1e-12)
    assert ds["test_contrast"].values.tolist() == [0.25, 0.5]
    assert "blank" in ds.attrs["baseline"]


def test_mask_drive_reports_a_mask_that_drives_the_neuron():
    ds = cross_orientation_suppression(_grid(_normalisation, w_mask_drive=1.0), baseline="blank")
    drive = ds["mask_drive"].sel(test_contrast=0.5).values[:, 0]
    r = _normalisation(0.0, MASKS, w_mask_drive=1.0) - 4.0
    np.testing.assert_allclose(drive, r / (_normalisation(0.5, 0.0) - 4.0))
    assert drive[-1] > 0.1


def test_without_baseline_the_raw_responses_are_used():
    y = _grid(_normalisation)
    ds = cross_orientation_suppression(y)
    r = y.values[..., 0]
    np.testing.assert_allclose(ds["suppression_index"].values[..., 0],
                               1 - r[1:] / r[1:, :1])
    assert ds.attrs["baseline"] == "none (raw responses)"


def test_simulated_poisson_neurons_on_the_sweep_recover_the_closed_form():
    """Poisson neurons following the normalisation model, shown the real sweep's conditions."""
    stim = cross_orientation_sweep(ScreenGeometry(8.0, 8), test_contrasts=[0.25, 0.5],
                                   mask_contrasts=[0.125, 0.25, 0.5], phases=[0, 90, 180, 270])
    ct, cm = stim.params["test_contrast"], stim.params["mask_contrast"]
    c50s = np.array([0.1, 0.2, 0.4])
    rates = np.stack([_normalisation(ct, cm, c50=c) for c in c50s], axis=1)  # (stim, neuron)
    rng = np.random.default_rng(0)
    n_trials, window_s = 300, 0.5
    counts = rng.poisson(np.concatenate(
        [np.full((len(stim), 3, 1), 4.0 * 0.2), rates[..., None] * window_s], axis=2),
        size=(n_trials, len(stim), 3, 2))
    resp = make_responses(counts, bin_ms=1.0, time_start_ms=[-200.0, 0.0],
                          stimulus_coords=stim.coords(), source="simulated")
    resp = resp.assign_coords(time_end_ms=("time", [0.0, 500.0]))
    ds = cross_orientation_suppression(resp, window_ms=(0, 500), baseline="blank")
    for j, c50 in enumerate(c50s):
        for t in (0.25, 0.5):
            got = ds["suppression_index"].sel(test_contrast=t).values[:, j]
            np.testing.assert_allclose(got, _closed_form_si(t, MASKS, c50=c50), atol=0.04)
    assert ds["suppression_index"].dims == ("test_contrast", "mask_contrast", "neuron")
    # the spontaneous rate from the blank before onset gives the same indices
    ds2 = cross_orientation_suppression(resp, window_ms=(0, 500), baseline_window_ms=(-200, 0))
    np.testing.assert_allclose(ds2["suppression_index"].values, ds["suppression_index"].values,
                               atol=0.05)


def test_curve_matches_a_manual_average_and_marks_missing_conditions():
    rng = np.random.default_rng(3)
    ct = np.array([0.5, 0.5, 0.5, 0.5, 0.0, 0.0])
    cm = np.array([0.0, 0.0, 0.5, 0.5, 0.5, 0.5])
    counts = rng.poisson(5.0, size=(4, 6, 2, 3))
    resp = make_responses(counts, bin_ms=10.0, stimulus_coords={
        "test_contrast": ct, "mask_contrast": cm, "phase": [0, 180] * 3})
    c = cross_orientation_curve(resp)
    rate = counts.sum(-1).mean(0) * 1000 / 30.0
    np.testing.assert_allclose(c.sel(test_contrast=0.5, mask_contrast=0.0), rate[:2].mean(0))
    np.testing.assert_allclose(c.sel(test_contrast=0.0, mask_contrast=0.5), rate[4:].mean(0))
    assert np.isnan(c.sel(test_contrast=0.0, mask_contrast=0.0)).all()  # no blank shown
    assert c.attrs["units"] == "spikes/s"
    with pytest.raises(ValueError, match="blank"):
        cross_orientation_suppression(resp, baseline="blank")


def test_bad_input_raises():
    y = _grid(_normalisation)
    with pytest.raises(ValueError, match="no mask contrast 0"):
        cross_orientation_suppression(y.isel(mask_contrast=slice(1, None)))
    with pytest.raises(ValueError, match="no test contrast > 0"):
        cross_orientation_suppression(y.isel(test_contrast=[0]))
    neg = y.assign_coords(mask_contrast=[-0.1, 0.125, 0.25, 0.5])
    with pytest.raises(ValueError, match="mask_contrast"):
        cross_orientation_suppression(neg)
    with pytest.raises(ValueError, match="baseline"):
        cross_orientation_suppression(y, baseline="spontaneous")
    with pytest.raises(ValueError, match="baseline"):
        cross_orientation_suppression(y, baseline=[1.0, 2.0])
    with pytest.raises(ValueError, match="data"):
        cross_orientation_suppression(y.rename(mask_contrast="mask"))
    with pytest.raises(ValueError, match="window_ms"):
        cross_orientation_suppression(y, window_ms=(0, 100))
    resp = make_responses(np.ones((2, 2, 1, 3)), bin_ms=10.0,
                          stimulus_coords={"test_contrast": [0.5, -0.5],
                                           "mask_contrast": [0.0, 0.0]})
    with pytest.raises(ValueError, match="test_contrast"):
        cross_orientation_suppression(resp)
    no_mask = make_responses(np.ones((2, 2, 1, 3)), bin_ms=10.0,
                             stimulus_coords={"test_contrast": [0.5, 0.25]})
    with pytest.raises(ValueError, match="mask_contrast"):
        cross_orientation_suppression(no_mask)
    with pytest.raises(ValueError, match="where"):
        cross_orientation_curve(make_responses(
            np.ones((2, 2, 1, 3)), bin_ms=10.0,
            stimulus_coords={"test_contrast": [0.5, 0.5], "mask_contrast": [0.0, 0.5]}),
            where={"mask_contrast": 0.0})


def test_zero_responses_give_nan_with_a_reason():
    y = _grid(_normalisation)
    v = y.values
    weak = np.clip(v - 100.0 * (y.test_contrast.values > 0)[:, None, None], 0, None)
    both = xr.DataArray(np.concatenate([v, np.zeros_like(v), weak], axis=2), dims=y.dims,
                        coords={**y.coords, "neuron_id": ("neuron", [0, 1, 2])})
    ds = cross_orientation_suppression(both, baseline="blank")
    reasons = ds["reason"].sel(test_contrast=0.5).values.tolist()
    assert reasons == ["", "no response to the test above baseline",
                       "no response to the test above baseline"]
    assert np.isnan(ds["suppression_index"].values[..., 1:]).all()
    assert np.isfinite(ds["suppression_index"].values[..., 0]).all()
    assert ds.attrs["n_undefined"] == 4
    nan = y.where(~((y.test_contrast == 0.25) & (y.mask_contrast == 0.0)))
    ds = cross_orientation_suppression(nan)
    assert ds["reason"].sel(test_contrast=0.25).values.tolist() == [
        "missing test-alone response"]
