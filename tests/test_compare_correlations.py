"""The comparison's noise correlations (r_sc) and contrast response (issue 13)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurofond import compare
from neurofond.analysis.contrast import naka_rushton
from neurofond.analysis.correlations import noise_correlations
from neurofond.compare.scores import contrast_measures, mean_ci, pair_correlations
from neurofond.responses import make_responses

N_TRIALS, N_UNITS = 16, 6


def _correlated_recordings(seed: int = 0):
    """Poisson units sharing a trial-by-trial gain (positive r_sc), 4 orientations x 2
    contrasts, 10-ms bins over -300..500 ms."""
    rng = np.random.default_rng(seed)
    starts = np.arange(-300.0, 500.0, 10.0)
    ori = np.repeat([0.0, 45.0, 90.0, 135.0], 2)
    con = np.tile([0.2, 1.0], 4)
    pref = rng.uniform(0.0, 180.0, N_UNITS)
    tuning = np.exp(2.0 * (np.cos(np.deg2rad(2 * (ori[:, None] - pref[None]))) - 1))
    rate = 5.0 + 40.0 * tuning * (con[:, None] ** 0.5)  # Hz, (cond, unit)
    on = (starts >= 0)[None, None, :]
    lam = np.where(on, rate[..., None], 5.0) * 0.01  # per 10-ms bin
    gain = rng.gamma(8.0, 1.0 / 8.0, size=(N_TRIALS, ori.size, 1, 1))  # shared per trial
    counts = rng.poisson(lam[None] * gain)
    return make_responses(counts, bin_ms=10.0, stimulus_coords={"orientation": ori,
                                                                 "contrast": con},
                          time_start_ms=starts)


@pytest.fixture(scope="module")
def comparison():
    rec = _correlated_recordings()
    comp = compare.compare(rec, ["stimulus-floor"], quick=True, n_trials=N_TRIALS,
                           n_trials_features=1, n_bootstrap=20, progress=False,
                           delays_ms=(0.0, 40.0))
    return rec, comp


def test_r_sc_in_the_comparison_equals_noise_correlations_on_the_recordings(comparison):
    rec, comp = comparison
    direct = noise_correlations(rec, (0.0, 500.0), min_trials=10, min_rate_hz=1.0)
    iu = np.triu_indices(N_UNITS, k=1)
    expected = np.asarray(direct["r_sc"].values)[iu]
    np.testing.assert_allclose(comp.data_pairs[0]["r_sc"], expected, rtol=1e-10,
                               equal_nan=True)
    assert np.isfinite(expected).sum() >= 10 and np.nanmean(expected) > 0.2  # shared gain
    row = next(r for r in comp.rows if r["session"] == 0)
    assert row["mean_r_sc_data"] == pytest.approx(np.nanmean(expected), rel=1e-12)
    assert row["n_pairs_data_r_sc"] == np.isfinite(expected).sum()
    assert 0.0 <= row["ks_similarity_r_sc"] <= 1.0


def test_independent_poisson_baseline_has_r_sc_near_zero(comparison):
    _, comp = comparison
    r = comp.model_pairs["stimulus-floor"][0]["r_sc"]
    n = compare.BaselineCandidate("stimulus-floor", compare.stimulus_parameters()).model
    assert r.size == n.n_channels * (n.n_channels - 1) // 2
    v = r[np.isfinite(r)]
    assert v.size > 50
    sem = v.std(ddof=1) / np.sqrt(v.size)
    assert abs(v.mean()) < max(4 * sem, 0.01)
    assert comp.model_pairs["stimulus-floor"][0]["min_rate_hz"] == 1.0  # LNP spikes
    # recorded pairs share a gain, the baseline's do not: the distributions differ
    row = next(r for r in comp.rows if r["session"] == "all")
    assert row["mean_r_sc_data"] > row["mean_r_sc_model"] + 0.1


def test_outputs_carry_r_sc_and_the_contrast_index(comparison, tmp_path):
    import csv

    _, comp = comparison
    out = compare.write_outputs(comp, tmp_path / "o", n_bootstrap=200)
    rows = list(csv.DictReader((out / "comparison.csv").open()))
    assert {"ks_similarity_r_sc", "mean_r_sc_data", "mean_r_sc_model",
            "ks_similarity_contrast", "ks_similarity_c50"} <= set(rows[0])
    summary = json.loads((out / "summary.json").read_text())
    card = summary["candidates"][0]["noise_correlation"]
    lo, hi = card["ci95"]
    assert lo <= card["mean_r_sc"] <= hi and card["n_pairs"] > 50
    data = summary["data_noise_correlation"]
    all_row = next(r for r in comp.rows if r["session"] == "all")
    assert data["mean_r_sc"] == pytest.approx(all_row["mean_r_sc_data"], rel=1e-12)
    assert data["ci95"][0] <= data["mean_r_sc"] <= data["ci95"][1]
    assert summary["results"]["settings"]["noise_correlation"]["min_trials"] == 10
    # two contrasts: contrast index defined, no c50 (NaN with the reason in the notes)
    props = comp.data_props[0]
    assert np.isfinite(props["contrast_index"]).any() and np.isnan(props["c50"]).all()
    assert "ks_c50: too few values" in all_row["notes"]
    assert (out / "properties.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pair_correlations_of_activations_use_no_rate_criterion():
    rng = np.random.default_rng(1)
    shared = rng.normal(0.0, 1.0, (30, 3, 1))
    act = 0.01 * (shared + rng.normal(0.0, 1.0, (30, 3, 4))) - 0.005  # signed, tiny
    ori, con = np.array([0.0, 45.0, 90.0]), np.ones(3)
    res = pair_correlations(act, ori, con, spiking=False)
    resp = make_responses(act[..., None], bin_ms=500.0, units="a.u.", signed=True,
                          stimulus_coords={"orientation": ori, "contrast": con})
    direct = noise_correlations(resp, min_trials=10, min_rate_hz=0.0)
    np.testing.assert_allclose(res["r_sc"], direct["r_sc"].values[np.triu_indices(4, 1)])
    assert res["min_rate_hz"] == 0.0 and np.all(res["r_sc"] > 0.2)  # cov 1 / var 2
    # sparse counts (0.6 spikes/s < 1 spike/s): excluded as spikes, included as activations
    sparse = (rng.uniform(size=(30, 3, 4)) < 0.3).astype(float)
    assert np.all(np.isnan(pair_correlations(sparse, ori, con, spiking=True)["r_sc"]))
    assert np.isfinite(pair_correlations(sparse, ori, con, spiking=False)["r_sc"]).all()


def test_contrast_index_closed_form_and_c50_recovered():
    ori = np.repeat([0.0, 90.0], 2)
    con = np.tile([0.1, 1.0], 2)
    # neuron 0 prefers 0 deg: 30 Hz at high, 10 Hz at low contrast, baseline 5 Hz
    evoked = np.array([[10.0, 6.0], [30.0, 6.0], [5.0, 8.0], [5.0, 20.0]])
    base = np.array([5.0, 5.0])
    ci, c50 = contrast_measures(evoked, base, ori, con, pref=np.array([0.0, 90.0]))
    np.testing.assert_allclose(ci, [(25 - 5) / 30, (15 - 3) / 18])
    assert np.isnan(c50).all()  # two contrasts: no Naka-Rushton fit
    levels = np.array([0.02, 0.05, 0.1, 0.2, 0.4, 0.8])
    ori6 = np.repeat([0.0, 90.0], levels.size)
    con6 = np.tile(levels, 2)
    truth = np.array([0.12, 0.3])
    ev = np.zeros((ori6.size, 2))
    ev[ori6 == 0, 0] = naka_rushton(levels, 40.0, truth[0], 2.0, 2.0)
    ev[ori6 == 90, 1] = naka_rushton(levels, 25.0, truth[1], 2.5, 1.0)
    ev[ori6 == 90, 0] = ev[ori6 == 0, 1] = 1.0
    ci6, c50_6 = contrast_measures(ev, np.array([2.0, 1.0]), ori6, con6,
                                   pref=np.array([0.0, 90.0]))
    np.testing.assert_allclose(c50_6, truth, rtol=1e-3)
    assert np.all((ci6 > 0) & (ci6 <= 1))


def test_mean_ci_grid_path_matches_the_exact_bootstrap():
    rng = np.random.default_rng(3)
    v = rng.normal(0.01, 0.1, 60_000)
    fast = mean_ci(v, n_bootstrap=400, seed=0)  # > exact_max: resampled on a 1e-4 grid
    exact = mean_ci(v, n_bootstrap=400, seed=0, exact_max=10**6)
    assert fast["mean"] == exact["mean"] == pytest.approx(v.mean(), rel=1e-12)
    half = 1.96 * v.std() / np.sqrt(v.size)
    for a, b, ref in zip(fast["ci95"], exact["ci95"], (v.mean() - half, v.mean() + half)):
        assert abs(a - ref) < 0.15 * half and abs(b - ref) < 0.15 * half
    assert mean_ci([np.nan, 1.0], n_bootstrap=10, seed=0)["ci95"] == [None, None]


@pytest.mark.data
def test_ecker_mean_r_sc_all_sessions(shared_data_dir):
    """All 17 static sessions: the comparison's recorded r_sc is the known 0.0081 +/- 0.0041
    over 776 pairs (docs/ecker2010.md, analyses/correlations.py)."""
    from neurofond.compare.engine import pooled_pairs, session_pairs
    from neurofond.compare.protocol import ALL_SESSIONS

    mat = shared_data_dir / "ecker2010_v1_gratings" / "data_v1_binned_static.mat"
    if not mat.is_file():
        pytest.skip(f"Ecker 2010 data not found at {mat}")
    comp = compare.compare(str(mat), ["stimulus-floor"], quick=True, n_trials=10,
                           n_trials_features=1, n_bootstrap=20, progress=False,
                           delays_ms=(20.0,))
    row = next(r for r in comp.rows if r["session"] == "all")
    assert row["n_units"] == 211 and row["n_pairs_data_r_sc"] == 776
    assert row["mean_r_sc_data"] == pytest.approx(0.0081, abs=5e-5)
    sessions = compare.load_sessions(ALL_SESSIONS, mat)
    pairs = {s.index: session_pairs(s) for s in sessions}
    v = pooled_pairs(pairs, list(pairs))
    assert v.size == 776 and sum(p["r_sc"].size for p in pairs.values()) == 1379
    assert v.mean() == pytest.approx(row["mean_r_sc_data"], rel=1e-12)
    assert v.std(ddof=1) / np.sqrt(v.size) == pytest.approx(0.0041, abs=5e-5)
    s7 = sessions[7]
    direct = noise_correlations(s7.property_responses(), (0.0, 500.0), min_trials=10,
                                min_rate_hz=1.0)
    np.testing.assert_allclose(pairs[7]["r_sc"],
                               direct["r_sc"].values[np.triu_indices(s7.n_units, 1)],
                               rtol=1e-10, equal_nan=True)
