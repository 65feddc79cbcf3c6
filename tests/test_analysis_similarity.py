"""Tests of neurofond.analysis.similarity (Brain-Score Marques2020 KS similarity)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurofond.analysis import ks_similarity, ks_similarity_bootstrap

BINS = np.linspace(0, 1, 11)


def test_identical_and_opposite_distributions():
    data = np.linspace(0.05, 0.95, 10)  # one value per bin
    assert ks_similarity(data, data, BINS) == pytest.approx(1.0)
    assert ks_similarity(np.full(50, 0.99), data, BINS) == pytest.approx(0.0)
    assert ks_similarity(np.full(50, 0.01), data, BINS) == pytest.approx(0.0)
    # values outside the bins stay outside (numpy.histogram rules), NaN ignored
    assert ks_similarity([-5.0, 7.0, np.nan], [0.01, 0.99], BINS) == pytest.approx(0.0)
    assert ks_similarity([0.01, 0.99, np.nan], [0.01, 0.99], BINS) == pytest.approx(1.0)


def test_similarity_is_order_invariant_and_bounded():
    rng = np.random.default_rng(0)
    model, data = rng.beta(2, 5, 300), rng.beta(2, 2, 80)
    s = ks_similarity(model, data, BINS)
    assert 0.0 <= s <= 1.0
    assert ks_similarity(rng.permutation(model), rng.permutation(data), BINS) == s


def test_bootstrap_score_ceiling_and_seed():
    rng = np.random.default_rng(1)
    data = rng.beta(2, 2, 120)
    same = ks_similarity_bootstrap(rng.beta(2, 2, 5000), data, BINS, n_bootstrap=300, seed=3)
    other = ks_similarity_bootstrap(rng.beta(5, 1, 5000), data, BINS, n_bootstrap=300, seed=3)
    assert same["raw_values"].sizes["bootstrap"] == 300
    assert float(same["score"]) == pytest.approx(float(same["raw"]) / float(same["ceiling"]))
    assert float(same["score"]) > 0.85 > float(other["score"])
    again = ks_similarity_bootstrap(rng.beta(2, 2, 5000), data, BINS, n_bootstrap=300, seed=3)
    assert float(again["ceiling"]) == float(same["ceiling"])  # same seed, same data draws
    split = ks_similarity_bootstrap(data, data, BINS, n_bootstrap=200, ceiling="split_half")
    assert float(split["ceiling"]) < float(same["ceiling"])  # halves are noisier


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"bins": [0, 1]}, "bins"),
        ({"bins": [0, 0.5, 0.2]}, "bins"),
        ({"n_bootstrap": 0}, "n_bootstrap"),
        ({"ceiling": "oracle"}, "ceiling"),
        ({"data_values": [np.nan]}, "data_values"),
    ],
)
def test_errors(kwargs, word):
    args = {"model_values": [0.1, 0.5], "data_values": [0.2, 0.4], "bins": BINS}
    args.update(kwargs)
    with pytest.raises(ValueError, match=word):
        ks_similarity_bootstrap(**args)


@pytest.fixture(scope="module")
def bs_metric(brainscore_env):
    return pytest.importorskip("brainscore_vision.metrics.distribution_similarity.metric")


def test_ks_similarity_equals_brainscore(bs_metric):
    rng = np.random.default_rng(2)
    for _ in range(20):
        bins = np.linspace(0, 8, 13)
        # Brain-Score clips values into the bins; ours agree on values inside them
        model = np.clip(rng.gamma(2, 1, 200), 0, 8)
        data = np.clip(rng.gamma(3, 1, 60), 0, 8)
        p = np.histogram(np.clip(model, 0, 8), bins)[0]
        q = np.histogram(np.clip(data, 0, 8), bins)[0]
        expected = bs_metric.ks_similarity(p / p.sum(), q / q.sum())
        assert ks_similarity(model, data, bins) == pytest.approx(expected, abs=1e-14)


def test_bootstrap_agrees_with_brainscore(bs_metric):
    rng = np.random.default_rng(4)
    bins = np.linspace(0, 1, 11)
    model, data = rng.beta(2, 4, 800), rng.beta(2, 3, 150)

    def assembly(values):
        return xr.DataArray(
            values[:, None],
            dims=("neuroid", "neuronal_property"),
            coords={"neuronal_property": ["cv"]},
            attrs={"cv_bins": bins},
        )

    metric = bs_metric.BootstrapDistributionSimilarity("cv")
    state = np.random.get_state()  # noqa: NPY002 (Brain-Score uses the global legacy RNG)
    try:
        np.random.seed(0)  # noqa: NPY002
        raw_bs = float(metric(assembly(model.copy()), assembly(data.copy())))
        ceil_bs = float(bs_metric.NeuronalPropertyCeiling(metric)(assembly(data.copy())))
    finally:
        np.random.set_state(state)  # noqa: NPY002
    ours = ks_similarity_bootstrap(model, data, bins, n_bootstrap=1000, seed=0)
    assert float(ours["raw"]) == pytest.approx(raw_bs, abs=0.01)
    assert float(ours["ceiling"]) == pytest.approx(ceil_bs, abs=0.01)
