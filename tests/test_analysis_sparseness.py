"""Tests of neurofond.analysis.sparseness."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurofond.analysis import (
    lifetime_sparseness,
    population_sparseness,
    proportion_zeros,
    treves_rolls_sparseness,
)
from neurofond.responses import make_responses


def da(values, dim="x"):
    return xr.DataArray(np.asarray(values, dtype=float), dims=dim)


def test_closed_forms():
    assert float(treves_rolls_sparseness(da([0, 0, 7, 0, 0]), "x")) == pytest.approx(1.0)
    assert float(treves_rolls_sparseness(da([3, 3, 3, 3]), "x")) == pytest.approx(0.0)
    # [1, 1, 0, 0]: A = (1/2)^2 / (1/2) = 1/2, S = (1 - 1/2) / (1 - 1/4) = 2/3
    assert float(treves_rolls_sparseness(da([1, 1, 0, 0]), "x")) == pytest.approx(2 / 3)
    assert np.isnan(float(treves_rolls_sparseness(da([0, 0, 0]), "x")))
    assert np.isnan(float(treves_rolls_sparseness(da([5.0]), "x")))


def test_invariances_and_nan():
    rng = np.random.default_rng(0)
    x = xr.DataArray(rng.exponential(1.0, (6, 20)), dims=("neuron", "stimulus"))
    s = treves_rolls_sparseness(x, "stimulus")
    xr.testing.assert_allclose(treves_rolls_sparseness(x * 13.0, "stimulus"), s)
    perm = rng.permutation(20)
    xr.testing.assert_allclose(treves_rolls_sparseness(x.isel(stimulus=perm), "stimulus"), s)
    with_nan = x.copy()
    with_nan[0, 0] = np.nan
    expected = treves_rolls_sparseness(x.isel(neuron=[0], stimulus=slice(1, None)), "stimulus")
    assert float(treves_rolls_sparseness(with_nan, "stimulus")[0]) == pytest.approx(
        float(expected[0])
    )


def test_errors():
    with pytest.raises(ValueError, match="values"):
        treves_rolls_sparseness(da([1, -1, 2]), "x")
    with pytest.raises(ValueError, match="dim"):
        treves_rolls_sparseness(da([1, 2]), "stimulus")
    r = make_responses(np.ones((2, 3, 4, 5)), bin_ms=10.0)
    with pytest.raises(ValueError, match="over"):
        proportion_zeros(r, over="trial")
    with pytest.raises(ValueError, match="window_ms"):
        lifetime_sparseness(r, window_ms=(0, 80))


def one_hot_responses():
    """Neuron k responds only to stimulus k (4 x 4), in the last 3 of 6 bins."""
    counts = np.zeros((3, 4, 4, 6))
    for k in range(4):
        counts[:, k, k, 3:] = 2
    return make_responses(counts, bin_ms=10.0, neuron_coords={"neuron_id": list("abcd")})


def test_lifetime_and_population():
    r = one_hot_responses()
    life = lifetime_sparseness(r)
    assert life.dims == ("neuron",)
    np.testing.assert_allclose(life.values, 1.0)
    assert list(life["neuron_id"].values) == list("abcd")
    pop = population_sparseness(r)
    assert pop.dims == ("stimulus",)
    np.testing.assert_allclose(pop.values, 1.0)
    single = population_sparseness(r, average_trials=False)
    assert single.dims == ("trial", "stimulus")
    np.testing.assert_allclose(single.values, 1.0)


def test_per_time_bin_sparsification():
    r = one_hot_responses()
    life_t = lifetime_sparseness(r, per_time_bin=True)
    assert life_t.dims == ("neuron", "time")
    assert np.isnan(life_t.values[:, :3]).all()  # silent bins: undefined
    np.testing.assert_allclose(life_t.values[:, 3:], 1.0)
    pop_t = population_sparseness(r, per_time_bin=True, window_ms=(30, 60))
    assert pop_t.sizes["time"] == 3
    np.testing.assert_array_equal(pop_t["time_start_ms"].values, [30, 40, 50])


def test_proportion_zeros():
    r = one_hot_responses()
    pz = proportion_zeros(r)
    np.testing.assert_allclose(pz.values, 0.75)  # 3 of 4 neurons silent per stimulus
    pz_t = proportion_zeros(r, over="stimulus", per_time_bin=True)
    assert pz_t.dims == ("neuron", "time")
    np.testing.assert_allclose(pz_t.values[:, :3], 1.0)
    np.testing.assert_allclose(pz_t.values[:, 3:], 0.75)
    vals = r.values.astype(float)
    vals[0, 0, :, :] = np.nan
    rn = make_responses(vals, bin_ms=10.0, allow_nan=True)
    np.testing.assert_allclose(proportion_zeros(rn).values, 0.75)


# ------------------------------------------------------------- any condition set (issue 14.5)


def _tr(r):
    """Closed form of Treves-Rolls / Vinje-Gallant sparseness of one response vector."""
    r = np.asarray(r, dtype=float)
    n = r.size
    return (1 - r.mean() ** 2 / np.mean(r**2)) / (1 - 1 / n)


def grid_responses(rates, coords, trials=3, bins=4, blank_bins=0, spont=0.0):
    """Constant per-bin counts ``rates`` (stimulus, neuron) on stimulus ``coords``."""
    rates = np.asarray(rates, dtype=float)
    counts = np.broadcast_to(rates[None, :, :, None], (trials, *rates.shape, bins))
    blank = np.full((trials, *rates.shape, blank_bins), spont)
    return make_responses(np.concatenate([blank, counts], axis=-1), bin_ms=10.0,
                          time_start_ms=-10.0 * blank_bins, stimulus_coords=coords)


def test_lifetime_sparseness_closed_form_on_an_uneven_incomplete_grid():
    """Conditions of an uneven orientation grid x 2 SFs with one combination missing and
    two phases per condition: S equals the closed form on the per-condition means."""
    ori = [0.0, 10.0, 30.0, 100.0, 170.0]
    combos = [(o, f) for o in ori for f in (1.0, 3.0) if (o, f) != (100.0, 3.0)]
    rng = np.random.default_rng(5)
    cond_rate = rng.uniform(0.5, 5.0, size=(len(combos), 2))
    phase_offset = np.array([-0.3, 0.3])  # the phases differ, their mean is the condition's
    o, f, p, rates = [], [], [], []
    for (oo, ff), rc in zip(combos, cond_rate, strict=True):
        for k, ph in enumerate((0.0, 180.0)):
            o.append(oo), f.append(ff), p.append(ph)
            rates.append(rc + phase_offset[k])
    r = grid_responses(rates, {"orientation": o, "sf": f, "phase": p})
    s = lifetime_sparseness(r, by=("orientation", "sf"))
    assert s.attrs["n_conditions"] == len(combos) == 9
    for j in range(2):
        assert float(s[j]) == pytest.approx(_tr(cond_rate[:, j]), abs=1e-12)
    # every stimulus as its own condition (the default) is the closed form over 18 stimuli
    per_stim = lifetime_sparseness(r)
    assert per_stim.attrs["n_conditions"] == 18
    assert float(per_stim[0]) == pytest.approx(_tr(np.asarray(rates)[:, 0]), abs=1e-12)
    # where restricts the set; by one key averages over the other
    sf1 = lifetime_sparseness(r, by="orientation", where={"sf": 1.0})
    sel = [i for i, (_, ff) in enumerate(combos) if ff == 1.0]
    assert float(sf1[1]) == pytest.approx(_tr(cond_rate[sel, 1]), abs=1e-12)
    # the same on a tuning curve already in hand (any grid): treves_rolls_sparseness
    curve = xr.DataArray(cond_rate[:, 0], dims="condition")
    assert float(treves_rolls_sparseness(curve, "condition")) == pytest.approx(float(s[0]))


def test_lifetime_sparseness_default_window_leaves_out_the_blank():
    """One-hot responses are maximally sparse (S = 1); a spontaneous rate in the blank,
    counted in by the old default (all bins), lowered it."""
    r = grid_responses(np.eye(4) * 5.0, {"orientation": [0.0, 45.0, 90.0, 135.0]},
                       blank_bins=4, spont=2.0)
    np.testing.assert_allclose(lifetime_sparseness(r).values, 1.0)
    assert lifetime_sparseness(r).attrs["window_ms"] == (0.0, 40.0)
    whole = lifetime_sparseness(r, window_ms=(-40, 40))
    # closed form of the old default: rate (5*4 + 2*4)/8 for the preferred, 1 elsewhere
    assert float(whole[0]) == pytest.approx(_tr([3.5, 1.0, 1.0, 1.0]), abs=1e-12)
    assert float(whole[0]) < 0.75


def test_lifetime_sparseness_bad_input():
    r = grid_responses(np.eye(3), {"orientation": [0.0, 45.0, 90.0]})
    with pytest.raises(ValueError, match="by"):
        lifetime_sparseness(r, by="speed")
    with pytest.raises(ValueError, match="by"):
        lifetime_sparseness(r, by=())
    with pytest.raises(ValueError, match="where"):
        lifetime_sparseness(r, where={"orientation": 33.0})
    with pytest.raises(ValueError, match="window_ms"):
        lifetime_sparseness(r, window_ms=(0, 500))
    # a single condition or a silent neuron: NaN (undefined), not 0
    one = lifetime_sparseness(r, where={"orientation": 0.0})
    assert np.isnan(one.values).all()
    silent = grid_responses(np.zeros((3, 1)), {"orientation": [0.0, 45.0, 90.0]})
    assert np.isnan(float(lifetime_sparseness(silent)[0]))


def test_population_sparseness_and_zeros_default_to_the_stimulus_period():
    """Like lifetime sparseness: the blank is not a response. Per time bin, every bin
    (the sparsification over time includes the blank)."""
    r = grid_responses(np.eye(4) * 5.0, {"orientation": [0.0, 45.0, 90.0, 135.0]},
                       blank_bins=4, spont=2.0)
    np.testing.assert_allclose(population_sparseness(r).values, 1.0)
    np.testing.assert_allclose(proportion_zeros(r).values, 0.75)  # 3 of 4 neurons silent
    assert population_sparseness(r).attrs["window_ms"] == (0.0, 40.0)
    np.testing.assert_allclose(proportion_zeros(r, window_ms=(-40, 40)).values, 0.0)
    assert population_sparseness(r, per_time_bin=True).sizes["time"] == 8
