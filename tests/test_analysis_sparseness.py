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
