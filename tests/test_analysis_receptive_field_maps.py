"""Receptive-field maps (sparse noise, bars): ground truth from simulated linear-nonlinear
Poisson neurons with known Gaussian / Gabor RFs, closed forms, invariances, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.stats import norm

from neurofond.analysis.receptive_field_maps import (
    bar_responses,
    rf_centre_size,
    sparse_noise_rf,
)
from neurofond.responses import make_responses
from neurofond.stimuli import ScreenGeometry
from neurofond.stimuli.rf_mapping import bar_sweep, flashed_bars, sparse_noise

GEOM = ScreenGeometry(16.0, 48)  # 3 x 3 deg
SQUARE = 0.125


# --------------------------------------------------------------------------- simulation


def _gaussian(x0: float, y0: float, sigma: float) -> np.ndarray:
    x, y = GEOM.grid_deg()
    return np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2))


def _gabor(x0: float, y0: float, sigma: float, sf: float, theta: float, phase: float
           ) -> np.ndarray:
    x, y = GEOM.grid_deg()
    th = np.deg2rad(theta)
    u = (x - x0) * np.cos(th) + (y - y0) * np.sin(th)
    env = np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2))
    return env * np.cos(2 * np.pi * sf * u + np.deg2rad(phase))


def _rates(stim, rfs, *, gain=20000.0, base=10.0, energy=None) -> np.ndarray:
    """Rates (spikes/s) ``(stimulus, frame, neuron)`` of linear-nonlinear neurons:
    ``max(base + gain * d, 0)`` with ``d = sum (L - 0.5) rf / ppd^2`` (luminance-weighted
    integral of the RF), or ``base + gain * (d1^2 + d2^2)`` for an energy (complex) neuron
    with the quadrature pair ``(rfs, energy)``."""
    ppd2 = GEOM.pixels_per_degree**2
    contrast = stim.frames.astype(np.float64) - 0.5
    d = np.einsum("sfhw,nhw->sfn", contrast, np.asarray(rfs)) / ppd2
    if energy is not None:
        d2 = np.einsum("sfhw,nhw->sfn", contrast, np.asarray(energy)) / ppd2
        return base + gain * (d * d + d2 * d2)
    return np.maximum(base + gain * d, 0.0)


def _lnp(stim, rfs, *, n_trials=10, seed=0, bin_ms=25.0, pre_bins=4, post_bins=None,
         latency_bins=0, drift=None, **kw):
    """Poisson Responses: ``pre_bins`` of baseline, then frame ``k - latency_bins`` in bin k
    (the last frame stays on: a static image for every bin after onset); ``drift`` (one rate
    per bin after onset, spikes/s) is added to every stimulus, blanks included."""
    rate = _rates(stim, rfs, **kw)
    base = kw.get("base", 10.0)
    n_s, n_f, n_n = rate.shape
    post = n_f if post_bins is None else post_bins
    frame = np.arange(post) - latency_bins
    valid = frame >= 0
    r = np.full((n_s, n_n, pre_bins + post), base)
    r[:, :, pre_bins:] = np.where(valid[None, None],
                                  np.moveaxis(rate[:, np.clip(frame, 0, n_f - 1), :], 1, 2),
                                  base)
    if drift is not None:
        r[:, :, pre_bins:] += np.asarray(drift)[None, None]
    lam = r * bin_ms / 1000.0
    counts = np.random.default_rng(seed).poisson(np.broadcast_to(lam, (n_trials, *lam.shape)))
    return make_responses(counts, bin_ms=bin_ms, stimulus_coords=stim.coords(),
                          time_start_ms=-pre_bins * bin_ms, source="simulated LNP")


def _true_maps(stim, rfs, window_s=0.1, **kw):
    """Noise-free ON and OFF maps (expected counts in the window minus the baseline)."""
    rate = _rates(stim, rfs, **kw)[:, 0, :]
    base = kw.get("base", 10.0)
    pol = stim.params["polarity"]
    out = {}
    for p in ("on", "off"):
        sel = pol == p
        xs, ys = stim.params["center_x_deg"][sel], stim.params["center_y_deg"][sel]
        gx, gy = np.unique(xs), np.unique(ys)
        m = np.zeros((rate.shape[1], gy.size, gx.size))
        for r, x, y in zip(rate[sel], xs, ys):
            m[:, np.searchsorted(gy, y), np.searchsorted(gx, x)] = (r - base) * window_s
        out[p] = m
    return out


@pytest.fixture(scope="module")
def noise():
    return sparse_noise(GEOM, SQUARE, n_positions=17, n_blanks=4, seed=0)


# --------------------------------------------------------------------------- sparse noise


def test_gaussian_rf_centre_and_size_are_recovered(noise):
    sigma, a = 0.3, SQUARE
    rfs = np.stack([_gaussian(0.2, -0.15, sigma), np.zeros(GEOM.size_px)])
    resp = _lnp(noise, rfs, post_bins=4)
    rf = sparse_noise_rf(resp, (0, 100))
    assert rf["on"].dims == ("neuron", "y_deg", "x_deg") and rf.sizes["x_deg"] == 17
    assert rf.attrs["z_threshold"] == pytest.approx(norm.isf(0.01 / (2 * 2 * 17 * 17)))
    assert rf["significant"].values.tolist() == [True, False]
    cs = rf_centre_size(rf)
    assert float(cs["centre_x_deg"][0]) == pytest.approx(0.2, abs=0.03)
    assert float(cs["centre_y_deg"][0]) == pytest.approx(-0.15, abs=0.03)
    # the map is the RF blurred by the square: sigma^2 + a^2 / 12
    sigma_map = np.hypot(sigma, a / np.sqrt(12))
    assert float(cs["sigma_deg"][0]) == pytest.approx(sigma_map, rel=0.1)
    assert float(cs["area_deg2"][0]) == pytest.approx(2 * np.pi * np.log(2) * sigma_map**2,
                                                     rel=0.25)
    assert not bool(cs["at_edge"][0]) and float(cs["fit_r2"][0]) > 0.5
    # dark squares only suppress an ON-centre neuron: no OFF subregion, no overlap
    assert float(cs["onoff_overlap"][0]) == 0.0 and np.isnan(float(cs["off_peak_x_deg"][0]))
    assert float(rf["off"][0].sel(x_deg=0.25, y_deg=-0.125)) < 0
    assert cs["reason"].values.tolist() == ["", "no significant response"]
    assert np.isnan(float(cs["centre_x_deg"][1]))


def test_gabor_on_and_off_subregions_lie_where_the_rf_has_them(noise):
    simple = _gabor(-0.1, 0.1, 0.25, 1.5, 30.0, 90.0)  # odd: ON and OFF lobes side by side
    even = _gabor(-0.1, 0.1, 0.25, 1.5, 30.0, 0.0)
    rfs = np.stack([simple, even])
    resp = _lnp(noise, rfs, post_bins=4, n_trials=20, seed=1)
    rf = sparse_noise_rf(resp, (0, 100))
    truth = _true_maps(noise, rfs)
    for p in ("on", "off"):
        r = np.corrcoef(rf[p].values[0].ravel(), truth[p][0].ravel())[0, 1]
        assert r > 0.9, (p, r)
    cs = rf_centre_size(rf)
    for p in ("on", "off"):
        iy, ix = np.unravel_index(np.argmax(truth[p][0]), truth[p][0].shape)
        gx, gy = rf["x_deg"].values, rf["y_deg"].values
        assert abs(float(cs[f"{p}_peak_x_deg"][0]) - gx[ix]) <= SQUARE + 1e-9
        assert abs(float(cs[f"{p}_peak_y_deg"][0]) - gy[iy]) <= SQUARE + 1e-9
    # segregated subregions: simple-like
    assert float(cs["onoff_overlap"][0]) < 0.1 and float(cs["onoff_correlation"][0]) < 0
    # the envelope centre lies between the lobes, near the Gabor centre
    assert np.hypot(float(cs["centre_x_deg"][1]) + 0.1, float(cs["centre_y_deg"][1]) - 0.1
                    ) < 0.1


def test_energy_neuron_has_overlapping_on_and_off_maps(noise):
    even = _gabor(0.0, 0.0, 0.2, 1.5, 0.0, 0.0)
    odd = _gabor(0.0, 0.0, 0.2, 1.5, 0.0, 90.0)
    resp = _lnp(noise, even[None], post_bins=4, n_trials=20, gain=4e6, energy=odd[None])
    cs = rf_centre_size(sparse_noise_rf(resp, (0, 100)))
    assert float(cs["onoff_overlap"][0]) > 0.5
    assert float(cs["onoff_correlation"][0]) > 0.8
    assert np.hypot(float(cs["centre_x_deg"][0]), float(cs["centre_y_deg"][0])) < 0.05


def test_shifting_the_rf_shifts_the_map(noise):
    dx, dy = 2 * SQUARE, -SQUARE
    rfs = np.stack([_gaussian(0.0, 0.1, 0.2), _gaussian(dx, 0.1 + dy, 0.2)])
    cs = rf_centre_size(sparse_noise_rf(_lnp(noise, rfs, post_bins=4, seed=3), (0, 100)))
    shift = (float(cs["centre_x_deg"][1] - cs["centre_x_deg"][0]),
             float(cs["centre_y_deg"][1] - cs["centre_y_deg"][0]))
    assert shift == pytest.approx((dx, dy), abs=0.03)
    assert float(cs["sigma_deg"][1]) == pytest.approx(float(cs["sigma_deg"][0]), rel=0.1)
    truth = _true_maps(noise, rfs)["on"]
    assert np.allclose(np.roll(truth[0], (-1, 2), axis=(0, 1))[2:-2, 3:-3],
                       truth[1][2:-2, 3:-3], atol=1e-9)


def test_z_scores_and_maps_follow_their_closed_form():
    geom = ScreenGeometry(8.0, 24)
    stim = sparse_noise(geom, 1.0, n_positions=3, polarities=("on",), n_blanks=1,
                        n_repeats=1, seed=0)
    counts = np.zeros((3, len(stim), 1, 1))
    pol = stim.params["polarity"]
    on_idx = np.flatnonzero(pol == "on")
    counts[:, on_idx, 0, 0] = np.arange(len(on_idx))[None] + np.array([[0], [1], [2]])
    counts[:, pol == "blank", 0, 0] = np.array([[1], [2], [6]])
    resp = make_responses(counts, bin_ms=100.0, stimulus_coords=stim.coords())
    rf = sparse_noise_rf(resp, (0, 100), alpha=0.05)
    b, var_b = 3.0, np.var([1, 2, 6], ddof=1)
    s = np.sqrt((len(on_idx) * 2 * 1.0 + 2 * var_b) / (len(on_idx) * 2 + 2))
    for k, i in enumerate(on_idx):
        x, y = stim.params["center_x_deg"][i], stim.params["center_y_deg"][i]
        m = k + 1.0
        cell = rf.sel(x_deg=x, y_deg=y)
        assert float(cell["on"][0]) == pytest.approx(m - b)
        assert float(cell["on_z"][0]) == pytest.approx((m - b) / (s * np.sqrt(2 / 3)))
    assert np.isnan(rf["off"].values).all() and rf.attrs["min_trials_per_cell"] == 3
    assert rf.attrs["z_threshold"] == pytest.approx(norm.isf(0.05 / 18))
    # dark squares only: the same numbers in the OFF map
    off_only = resp.assign_coords(polarity=("stimulus", np.where(pol == "on", "off", pol)))
    rf_off = sparse_noise_rf(off_only, (0, 100), alpha=0.05)
    assert np.allclose(rf_off["off_z"].values, rf["on_z"].values)
    assert np.isnan(rf_off["on"].values).all()
    assert float(rf["baseline"][0]) == pytest.approx(b)


def test_gaussian_fit_recovers_an_exact_elliptical_gaussian_map():
    g = np.linspace(-1, 1, 41)
    x, y = np.meshgrid(g, g)
    th = np.deg2rad(30.0)
    u = (x - 0.1) * np.cos(th) + (y + 0.05) * np.sin(th)
    v = -(x - 0.1) * np.sin(th) + (y + 0.05) * np.cos(th)
    m = 3.0 * np.exp(-u**2 / (2 * 0.2**2) - v**2 / (2 * 0.1**2))
    rf = xr.DataArray(m[None], dims=("neuron", "y_deg", "x_deg"),
                      coords={"x_deg": g, "y_deg": g})
    cs = rf_centre_size(rf)
    assert float(cs["centre_x_deg"][0]) == pytest.approx(0.1, abs=1e-6)
    assert float(cs["centre_y_deg"][0]) == pytest.approx(-0.05, abs=1e-6)
    assert float(cs["sigma_major_deg"][0]) == pytest.approx(0.2, rel=1e-5)
    assert float(cs["sigma_minor_deg"][0]) == pytest.approx(0.1, rel=1e-5)
    assert float(cs["angle_deg"][0]) == pytest.approx(30.0, abs=1e-3)
    assert float(cs["fit_r2"][0]) == pytest.approx(1.0)
    # half-height area: the discrete count of 0.05-deg cells is within 10 % of the ellipse
    assert float(cs["area_deg2"][0]) == pytest.approx(2 * np.pi * np.log(2) * 0.02, rel=0.1)
    # a signed map counts by its magnitude: the negative of the map gives the same RF
    neg = rf_centre_size(-rf)
    assert float(neg["sigma_deg"][0]) == pytest.approx(float(cs["sigma_deg"][0]))


def test_pre_stimulus_baseline_gives_the_same_map_as_blanks(noise):
    rfs = _gaussian(0.2, -0.15, 0.3)[None]
    resp = _lnp(noise, rfs, post_bins=4)
    a = sparse_noise_rf(resp, (0, 100))
    b = sparse_noise_rf(resp, (0, 100), baseline_ms=(-100, 0))
    assert "baseline_ms" in b.attrs["baseline"]
    assert np.corrcoef(a["on"].values.ravel(), b["on"].values.ravel())[0, 1] > 0.99
    assert abs(float(a["baseline"][0]) - float(b["baseline"][0])) < 0.2


# --------------------------------------------------------------------------- bad input


def test_rf_at_the_grid_edge_is_flagged(noise):
    corner = _gaussian(-1.0, -1.0, 0.25)[None]  # the grid spans +-1 deg
    cs = rf_centre_size(sparse_noise_rf(_lnp(noise, corner, post_bins=4), (0, 100)))
    assert bool(cs["at_edge"][0])
    assert cs.attrs["n_at_edge"] == 1


def test_too_few_repeats_and_missing_baseline_raise():
    geom = ScreenGeometry(8.0, 24)
    stim = sparse_noise(geom, 1.0, n_positions=3, n_blanks=2)
    resp = _lnp_small(stim, n_trials=1)
    with pytest.raises(ValueError, match="min_trials.*too few repeats"):
        sparse_noise_rf(resp, (0, 100))
    no_blank = sparse_noise(geom, 1.0, n_positions=3, n_blanks=0)
    with pytest.raises(ValueError, match="baseline_ms: no blank"):
        sparse_noise_rf(_lnp_small(no_blank, n_trials=4), (0, 100))
    ok = _lnp_small(stim, n_trials=4)
    with pytest.raises(ValueError, match="window_ms.*outside"):
        sparse_noise_rf(ok, (0, 500))
    with pytest.raises(ValueError, match="window_ms.*cuts"):
        sparse_noise_rf(ok, (0, 50))
    with pytest.raises(ValueError, match="baseline_ms.*outside"):
        sparse_noise_rf(ok, (0, 100), baseline_ms=(-500, 0))
    with pytest.raises(ValueError, match="alpha"):
        sparse_noise_rf(ok, (0, 100), alpha=1.5)
    with pytest.raises(ValueError, match="incomplete"):
        sparse_noise_rf(ok.isel(stimulus=np.flatnonzero(
            stim.params["polarity"] != "on")[:-1].tolist() + np.flatnonzero(
            stim.params["polarity"] == "on")[1:].tolist()), (0, 100))
    with pytest.raises(ValueError, match="polarity"):
        sparse_noise_rf(ok.drop_vars("polarity"), (0, 100))


def _lnp_small(stim, n_trials):
    counts = np.random.default_rng(0).poisson(2.0, (n_trials, len(stim), 2, 2))
    return make_responses(counts, bin_ms=100.0, stimulus_coords=stim.coords(),
                          time_start_ms=-100.0)


def test_constant_responses_give_nan_with_a_reason():
    stim = sparse_noise(ScreenGeometry(8.0, 24), 1.0, n_positions=3, n_blanks=2)
    resp = make_responses(np.full((4, len(stim), 1, 1), 3), bin_ms=100.0,
                          stimulus_coords=stim.coords())
    rf = sparse_noise_rf(resp, (0, 100))
    assert np.isnan(rf["on_z"].values).all() and not bool(rf["significant"][0])
    assert rf["reason"].values[0].startswith("constant responses")
    assert np.allclose(rf["on"].values, 0.0)
    cs = rf_centre_size(rf)
    assert cs["reason"].values[0].startswith("constant responses")
    assert np.isnan(float(cs["sigma_deg"][0]))


def test_rf_centre_size_rejects_maps_it_cannot_fit():
    g = np.array([0.0, 1.0])
    with pytest.raises(ValueError, match="at least 3 positions"):
        rf_centre_size(xr.DataArray(np.ones((1, 2, 2)), dims=("neuron", "y_deg", "x_deg"),
                                    coords={"x_deg": g, "y_deg": g}))
    with pytest.raises(ValueError, match="y_deg"):
        rf_centre_size(xr.DataArray(np.ones((3, 3)), dims=("y", "x")))
    with pytest.raises(ValueError, match="'off' map"):
        rf_centre_size(xr.Dataset({"on": xr.DataArray(np.ones((3, 3)),
                                                      dims=("y_deg", "x_deg"))}))


# --------------------------------------------------------------------------- bars


def test_swept_bars_locate_the_rf_and_cancel_the_latency():
    rfs = np.stack([_gaussian(0.2, -0.15, 0.15), _gabor(0.0, 0.0, 0.25, 2.5, 45.0, 0.0)])
    stim = bar_sweep(GEOM, np.arange(0, 180, 22.5), length_deg=2.5, width_deg=0.125,
                     speed_deg_per_s=10.0, sweep_deg=2.5, frame_rate_hz=100.0)
    resp = _lnp(stim, rfs, bin_ms=10.0, pre_bins=5, latency_bins=3)
    br = bar_responses(resp)
    assert br["profile"].dims == ("bar", "position_deg", "neuron")
    assert float(br["centre_x_deg"][0]) == pytest.approx(0.2, abs=0.04)
    assert float(br["centre_y_deg"][0]) == pytest.approx(-0.15, abs=0.04)
    assert np.nanmedian(br["latency_ms"].values[:, 0]) == pytest.approx(30.0, abs=5.0)
    # projection of the centre on each normal
    oris = np.deg2rad(br["orientation"].values)
    expected = 0.2 * np.cos(oris) - 0.15 * np.sin(oris)
    assert np.allclose(br["peak_position_deg"].values[:, 0], expected, atol=0.05)
    assert float(br["preferred_orientation"][1]) == 45.0
    # Gaussian smoothing along position keeps the peaks; a wide one flattens the profile
    smooth = bar_responses(resp, smooth_deg=0.05)
    assert np.allclose(smooth["peak_position_deg"].values[:, 0], expected, atol=0.05)
    flat = bar_responses(resp, smooth_deg=100.0)["profile"].values
    assert np.allclose(flat, flat.mean(axis=1, keepdims=True), atol=0.01)
    with pytest.raises(ValueError, match="smooth_deg"):
        bar_responses(resp, smooth_deg=0.0)
    # the latency shifts one direction's estimate by speed x latency = 0.3 deg
    one = bar_responses(resp.isel(stimulus=np.flatnonzero(
        stim.params["direction"] < 180)))
    assert np.isnan(one["latency_ms"].values).all()
    assert float(one["peak_position_deg"].sel(orientation=0.0)[0]) == pytest.approx(
        0.5, abs=0.06)
    # accounting for the latency removes the bias
    fixed = bar_responses(resp.isel(stimulus=np.flatnonzero(
        stim.params["direction"] < 180)), latency_ms=30.0)
    assert float(fixed["peak_position_deg"].sel(orientation=0.0)[0]) == pytest.approx(
        0.2, abs=0.06)


def test_blank_sweeps_subtract_a_drifting_baseline():
    rfs = _gaussian(0.2, -0.15, 0.15)[None]
    stim = bar_sweep(GEOM, np.arange(0, 180, 45), length_deg=2.5, width_deg=0.125,
                     speed_deg_per_s=10.0, sweep_deg=2.5, frame_rate_hz=100.0, n_blanks=4)
    assert (stim.params["polarity"] == "blank").sum() == 4
    drift = 800.0 * np.exp(-np.arange(26) / 8.0)  # a spontaneous rate still settling
    resp = _lnp(stim, rfs, bin_ms=10.0, pre_bins=5, latency_bins=3, drift=drift, n_trials=20)
    br = bar_responses(resp)
    assert "blank sweeps" in br.attrs["baseline"]
    assert np.nanmedian(br["latency_ms"].values) == pytest.approx(30.0, abs=5.0)
    assert float(br["centre_x_deg"][0]) == pytest.approx(0.2, abs=0.04)
    assert float(br["centre_y_deg"][0]) == pytest.approx(-0.15, abs=0.04)
    # the pre-stimulus baseline leaves the drift in: the peak moves to the sweep's start
    pre = bar_responses(resp, baseline_ms=(-50, 0))
    assert np.nanmedian(pre["latency_ms"].values) < 0


def test_flashed_bars_give_orientation_tuning_that_rotates_with_the_rf():
    rfs = np.stack([_gabor(0.1, 0.0, 0.2, 1.5, 45.0, 0.0),
                    _gabor(0.1, 0.0, 0.2, 1.5, 135.0, 0.0)])
    stim = flashed_bars(GEOM, np.arange(0, 180, 22.5), np.linspace(-1, 1, 17),
                        length_deg=2.5, width_deg=0.125, n_blanks=4)
    br = bar_responses(_lnp(stim, rfs, post_bins=4), (0, 100))
    assert br["preferred_orientation"].values.tolist() == [45.0, 135.0]
    t = br["tuning"].values
    assert np.allclose(np.roll(t[:, 0], 4), t[:, 1], rtol=0.2, atol=10.0)
    assert float(br["centre_x_deg"][0]) == pytest.approx(0.1, abs=0.05)
    assert float(br["centre_y_deg"][0]) == pytest.approx(0.0, abs=0.05)
    assert br.attrs["kind"] == "flashed_bar" and br["tuning"].attrs["units"] == "spikes/s"


def test_bar_responses_bad_input():
    stim = flashed_bars(GEOM, [0, 90], [0.0, 0.5], length_deg=1.0, width_deg=0.125)
    resp = _lnp(stim, _gaussian(0, 0, 0.2)[None], post_bins=4)
    with pytest.raises(ValueError, match="window_ms: required"):
        bar_responses(resp)
    with pytest.raises(ValueError, match="window_ms.*outside"):
        bar_responses(resp, (0, 1000))
    with pytest.raises(ValueError, match="latency_ms"):
        bar_responses(resp, (0, 100), latency_ms=-5)
    with pytest.raises(ValueError, match="kind"):
        bar_responses(resp.assign_coords(kind=("stimulus", np.full(len(stim), "grating"))),
                      (0, 100))
    sweep = bar_sweep(GEOM, [0.0], length_deg=1, width_deg=0.125, speed_deg_per_s=10,
                      sweep_deg=1.0)
    no_pre = _lnp(sweep, _gaussian(0, 0, 0.2)[None], bin_ms=10.0, pre_bins=0)
    with pytest.raises(ValueError, match="baseline_ms"):
        bar_responses(no_pre)
    silent = bar_responses(_lnp(stim, np.zeros((1, *GEOM.size_px)), post_bins=4, base=0.0),
                           (0, 100))
    assert silent["reason"].values[0] == "no response above baseline"
    assert np.isnan(float(silent["centre_x_deg"][0]))
