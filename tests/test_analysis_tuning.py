"""Tests of neurofond.analysis.tuning: tuning curves, orientation / SF selectivity, F1/F0."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from neurofond.analysis.tuning import (
    conditional_tuning_curve,
    modulation_ratio,
    orientation_selectivity,
    sf_selectivity,
    stimulus_window,
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
    with pytest.warns(UserWarning, match=r"averages over .*\['sf'\].*marginalize"):
        curve = tuning_curve(r, "orientation")
    assert curve.attrs["marginalized"] == "['sf']"
    xr.testing.assert_identical(curve, tuning_curve(r, "orientation", marginalize=["sf"]))
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
    by_sf = tuning_curve(r, "sf", where={"orientation": [45.0, 90.0]},
                         marginalize=["orientation"])
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
    curve = tuning_curve(r2, "orientation", marginalize=["sf"])
    manual = np.nanmean(vals[:, :, 0, :].sum(-1), axis=0) * 10.0  # rate per stimulus
    np.testing.assert_allclose(curve.isel(neuron=0).values, manual.reshape(4, 2).mean(1))
    assert np.all(np.isfinite(curve.values))


def test_tuning_curve_invariant_to_stimulus_permutation():
    r = grid_responses()
    perm = np.random.default_rng(3).permutation(r.sizes["stimulus"])
    xr.testing.assert_allclose(
        tuning_curve(r, "orientation", marginalize=["sf"]),
        tuning_curve(r.isel(stimulus=perm), "orientation", marginalize=["sf"]),
    )


def test_tuning_curve_average_options():
    r = grid_responses()
    per_trial = tuning_curve(r, "orientation", average=(), marginalize=["sf"])
    assert per_trial.dims == ("trial", "orientation", "neuron")
    pooled = tuning_curve(r, "orientation", average=("trial", "neuron"), marginalize=["sf"])
    assert pooled.dims == ("orientation",)
    np.testing.assert_allclose(
        pooled.values, tuning_curve(r, "orientation", marginalize=["sf"]).mean("neuron"))


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
    fallback = orientation_selectivity(uneven)  # Hanning needs an even grid: falls back
    plain = orientation_selectivity(uneven, smoothing=None)
    xr.testing.assert_allclose(fallback, plain)  # same values, only the attrs differ
    assert fallback.attrs["smoothing"] == "hanning"
    assert fallback.attrs["smoothing_applied"] == "None"
    assert "not evenly spaced" in fallback.attrs["smoothing_note"]
    assert np.isfinite(float(plain["osi"]))
    even = orientation_selectivity(c)
    assert even.attrs["smoothing_applied"] == "hanning" and even.attrs["smoothing_note"] == ""
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


# ------------------------------------------------------- several keys, conditional tuning


def cross_responses() -> xr.DataArray:
    """2 trials x (3 ori x 3 sf x 2 phases) x 2 neurons x 5 bins of 10 ms.

    Neuron 0 prefers orientation 90 and, at 90, SF 4 (at other orientations SF 1);
    neuron 1 prefers orientation 0, where its SF curve is flat. Counts per bin are exact.
    """
    ori, sf, ph = (a.ravel() for a in np.meshgrid([0.0, 45.0, 90.0], [1.0, 2.0, 4.0],
                                                  [0.0, 180.0], indexing="ij"))
    rate0 = np.where(ori == 90.0, 2.0 + 3.0 * (sf == 4.0), 1.0 + 2.0 * (sf == 1.0))
    rate1 = np.where(ori == 0.0, 4.0, 1.0 * (sf == 2.0))
    counts = np.broadcast_to(np.stack([rate0, rate1], axis=-1)[None, :, :, None],
                             (2, ori.size, 2, 5)).copy()
    return make_responses(counts, bin_ms=10.0,
                          stimulus_coords={"orientation": ori, "sf": sf, "phase": ph})


def test_tuning_curve_over_two_keys_is_the_2d_grid():
    r = cross_responses()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # phase is a nuisance parameter: no warning
        grid = tuning_curve(r, ("orientation", "sf"))
    assert grid.dims == ("orientation", "sf", "neuron")
    assert grid.attrs["marginalized"] == "['phase']"
    counts = r.isel(trial=0, time=0).values.reshape(3, 3, 2, 2).mean(2) * 100.0  # ori, sf, n
    np.testing.assert_allclose(grid.values, counts)
    # marginalising the grid over sf gives the 1-D orientation curve
    np.testing.assert_allclose(grid.mean("sf").values,
                               tuning_curve(r, "orientation", marginalize=["sf"]).values)
    # a combination never presented is NaN, not dropped
    sub = r.isel(stimulus=np.flatnonzero(~((r["orientation"] == 0) & (r["sf"] == 4)).values))
    part = tuning_curve(sub, ("orientation", "sf"))
    assert part.shape == grid.shape
    assert np.isnan(part.sel(orientation=0.0, sf=4.0)).all()
    assert np.isfinite(part.sel(orientation=0.0, sf=2.0)).all()


def test_sf_curve_averaging_over_orientation_warns_and_conditional_tuning_does_not():
    r = cross_responses()
    with pytest.warns(UserWarning, match="orientation"):
        averaged = tuning_curve(r, "sf")
    # the average hides neuron 0's SF preference at its preferred orientation
    assert int(np.argmax(averaged.isel(neuron=0).values)) == 0  # sf 1 wins on average
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cond = conditional_tuning_curve(r, "sf", "orientation")
        fixed = tuning_curve(r, "sf", where={"orientation": 90.0})
    assert cond.dims == ("sf", "neuron")
    np.testing.assert_array_equal(cond["preferred_orientation"].values, [90.0, 0.0])
    np.testing.assert_allclose(cond.isel(neuron=0).values, fixed.isel(neuron=0).values)
    np.testing.assert_allclose(cond.isel(neuron=0).values, [200.0, 200.0, 500.0])
    np.testing.assert_allclose(cond.isel(neuron=1).values, [400.0, 400.0, 400.0])
    # explicit preferred values (e.g. measured on other trials)
    given = conditional_tuning_curve(r, "sf", "orientation", preferred=[45.0, 45.0])
    np.testing.assert_allclose(given.values, tuning_curve(r, "sf", where={"orientation": 45.0}))


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"at": "sf"}, "at"),
        ({"preferred": [90.0]}, "preferred"),
        ({"preferred": [90.0, 30.0]}, "preferred"),
        ({"at": "speed"}, "by"),
        ({"marginalize": ["speed"]}, "marginalize"),
    ],
)
def test_conditional_tuning_errors_name_the_argument(kwargs, word):
    with pytest.raises(ValueError, match=word):
        conditional_tuning_curve(cross_responses(), "sf", **{"at": "orientation", **kwargs})


def test_silent_neuron_has_no_preferred_value():
    r = cross_responses()
    silent = r.copy(data=np.zeros_like(r.values))
    cond = conditional_tuning_curve(silent, "sf", "orientation")
    assert np.isnan(cond.values).all() and np.isnan(cond["preferred_orientation"]).all()


def test_tuning_curve_by_errors():
    with pytest.raises(ValueError, match="by"):
        tuning_curve(cross_responses(), ("sf", "sf"))
    with pytest.raises(ValueError, match="by"):
        tuning_curve(cross_responses(), ())


# ------------------------------------------------- F1/F0 over the stimulus period


def rectified(tf_hz: float, *, amp: float = 10.0, blank_ms: float = 0.0, spont: float = 0.0,
              after_ms: float = 0.0, stim_ms: float = 1000.0, bin_ms: float = 1.0,
              attrs: dict | None = None) -> xr.DataArray:
    """Half-wave rectified sinusoid (per-bin expected count) during the stimulus, ``spont``
    during the blank before onset and after offset."""
    start = -blank_ms
    n = int(round((blank_ms + stim_ms + after_ms) / bin_ms))
    t = start + (np.arange(n) + 0.5) * bin_ms
    on = (t >= 0) & (t < stim_ms)
    y = np.where(on, np.maximum(amp * np.sin(2 * np.pi * tf_hz * t / 1000.0), 0.0), spont)
    r = make_responses(y[None, None, None, :], bin_ms=bin_ms, time_start_ms=start)
    r.attrs.update(attrs or {})
    return r


def test_modulation_ratio_of_a_rectified_sinusoid_is_pi_over_2():
    """Closed form: a half-wave rectified sinusoid A max(sin, 0) has F0 = A / pi and
    F1 = A / 2, so F1/F0 = pi / 2 (a simple cell's signature)."""
    ds = modulation_ratio(rectified(4.0), 4.0)
    assert float(ds["modulation_ratio"][0, 0]) == pytest.approx(np.pi / 2, rel=1e-4)
    assert float(ds["f0"][0, 0]) == pytest.approx(10.0 / np.pi * 1000, rel=1e-4)


def test_modulation_ratio_default_window_is_the_stimulus_period():
    """Before the fix the default window was the whole time range: a 200-ms blank at a
    spontaneous rate entered the cycles and pulled F1/F0 of a rectified sinusoid from
    pi/2 = 1.571 to 1.428 (the issue reported 1.45 -> 1.06 on model responses)."""
    r = rectified(4.0, blank_ms=200.0, spont=1.0)
    assert stimulus_window(r) == (0.0, 1000.0)
    fixed = float(modulation_ratio(r, 4.0)["modulation_ratio"][0, 0])
    assert fixed == pytest.approx(np.pi / 2, rel=1e-4)
    old = float(modulation_ratio(r, 4.0, window_ms=(-200, 1000))["modulation_ratio"][0, 0])
    # the old default: 4 whole cycles from -200 ms (blank + 3.2 cycles), computed directly
    y = r.values[0, 0, 0, :1000]
    t = r["time"].values[:1000] + 0.5
    ref = 2 * np.abs(np.sum(y * np.exp(-2j * np.pi * 4.0 * t / 1000))) / y.size / y.mean()
    assert old == pytest.approx(ref, rel=1e-9)
    assert old == pytest.approx(1.428, abs=1e-3)  # biased down from pi/2 = 1.571
    assert modulation_ratio(r, 4.0).attrs["window_ms"] == (0.0, 1000.0)
    # the stimulus end comes from attrs: recordings (stimulus_duration_ms) and model
    # presentations (stimulus_steps * ms_per_step); the response after offset is left out
    rec = rectified(4.0, blank_ms=200.0, spont=1.0, after_ms=200.0,
                    attrs={"stimulus_duration_ms": 1000.0})
    assert stimulus_window(rec) == (0.0, 1000.0)
    assert float(modulation_ratio(rec, 4.0)["modulation_ratio"][0, 0]) == pytest.approx(
        np.pi / 2, rel=1e-4)
    model = rectified(4.0, blank_ms=20.0, after_ms=100.0,
                      attrs={"stimulus_steps": 100, "ms_per_step": 10.0})
    assert stimulus_window(model) == (0.0, 1000.0)
    with pytest.raises(ValueError, match="window_ms"):
        modulation_ratio(rectified(4.0, blank_ms=200.0, stim_ms=0.0, after_ms=0.0), 4.0)
    # data recorded from 250 ms on: the stimulus period within the data
    late = rectified(4.0).isel(time=slice(250, None))
    assert stimulus_window(late) == (250.0, 1000.0)
    assert float(modulation_ratio(late, 4.0)["modulation_ratio"][0, 0]) == pytest.approx(
        np.pi / 2, rel=1e-4)
    with pytest.raises(ValueError, match="stimulus ends at 100"):
        stimulus_window(rectified(4.0, attrs={"stimulus_duration_ms": 100.0}).isel(
            time=slice(200, None)))


def test_modulation_ratio_rejects_frequencies_above_the_bin_nyquist():
    r = rectified(4.0, bin_ms=10.0)  # Nyquist 50 Hz
    assert np.isfinite(float(modulation_ratio(r, 40.0)["modulation_ratio"][0, 0]))
    for tf in (50.0, 80.0):
        with pytest.raises(ValueError, match=r"tf_hz: .*Nyquist"):
            modulation_ratio(r, tf)


@pytest.mark.slow
def test_shipped_ipvae_f1f0_with_and_without_the_blank():
    """The bias the old default window (blank included) put on the shipped iP-VAE's F1/F0,
    as reported in docs/insilico.md ("Defaults and steady state"): drifting gratings at 4 Hz,
    8 directions x SF 2 and 4 cycles/deg, 1 s, 4 trials, the default 20-step blank."""
    import torch

    from neurofond.population import InSilicoPopulation
    from neurofond.stimuli import ScreenGeometry, drifting_grating_sweep

    torch.set_num_threads(1)
    pop = InSilicoPopulation.from_pretrained("ipvae-k512-b24-photos")
    stim = drifting_grating_sweep(ScreenGeometry(16.0, 16), directions=range(0, 360, 45),
                                  sfs=[2.0, 4.0], tfs=[4.0], n_frames=100, frame_rate_hz=100.0)
    resp = pop.present(stim, n_trials=4, blank_steps=20, seed=0, progress=False,
                       check_steady_state=False)
    new = modulation_ratio(resp, 4.0)
    old = modulation_ratio(resp, 4.0, window_ms=(-200, 1000))  # the old default: every bin
    f0 = new["f0"].values
    best, cols = np.argmax(f0, axis=0), np.arange(f0.shape[1])
    ok = f0[best, cols] > 5.0
    assert ok.sum() == pytest.approx(481, abs=10)
    med_new = np.nanmedian(new["modulation_ratio"].values[best, cols][ok])
    med_old = np.nanmedian(old["modulation_ratio"].values[best, cols][ok])
    assert med_new == pytest.approx(1.24, abs=0.05) and med_old == pytest.approx(0.93, abs=0.05)
