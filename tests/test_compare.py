"""neurofond.compare without recorded data: candidates, sessions and the window rule."""

from __future__ import annotations

import numpy as np
import pytest

from neurofond import compare
from neurofond.responses import validate_responses


def test_baseline_candidate_spikes_are_the_model_present():
    params = compare.stimulus_parameters()
    cand = compare.BaselineCandidate("gabor-energy", params)
    stim = compare.render_conditions(np.array([0.0, 90.0]), np.array([0.5, 1.0]), params)
    steps = cand.steps(40.0)
    assert steps[0] < 0 and steps[-1] + 1 == 100  # 500 ms at 5 ms per step
    spikes = cand.simulate(stim, steps, 3, seed=5, spikes=True)
    resp = cand.model.present(stim, n_trials=3, blank_steps=int(-steps[0]),
                              stimulus_steps=100, seed=5)
    validate_responses(resp)
    np.testing.assert_array_equal(spikes, resp.values.astype(np.float32))
    feats = cand.simulate(stim, steps, 3, seed=5, spikes=False)
    assert feats.shape == (2, cand.model.n_channels, steps.size)
    assert np.all(feats[..., steps < 0] == 0)  # no drive before onset
    with pytest.raises(ValueError, match="unknown baseline"):
        compare.BaselineCandidate("sparse-net", params)


def test_pixel_pca_candidate_signed_features():
    params = compare.stimulus_parameters()
    cand = compare.BaselineCandidate("pixel-pca", params)
    stim = compare.render_conditions(np.array([0.0, 45.0]), np.array([1.0, 1.0]), params)
    feats = cand.simulate(stim, np.arange(-2, 10), 1, seed=0, spikes=False)
    assert (feats < 0).any() and cand.label.startswith("pixel PCA")


def test_session_windows_follow_the_one_window_rule():
    starts = np.arange(-300.0, 600.0, 10.0)
    sess = compare.Session(index=0, counts=np.ones((2, 4, 3, starts.size)), starts=starts,
                           orientation=np.array([0.0, 90.0, 0.0, 90.0]),
                           contrast=np.array([0.1, 0.1, 1.0, 1.0]),
                           unit_ids=np.array(["a", "b", "c"]), subject="x")
    assert sess.window(0.0, 500.0).size == 50
    assert sess.binned(50.0).shape == (2, 4, 3, 10)
    np.testing.assert_array_equal(sess.fano_counts(), 50.0)
    resp = sess.property_responses()
    assert resp.sizes["time"] == 70 and float(resp["time"][0]) == -200.0
    with pytest.raises(ValueError, match="cuts the bin"):
        sess.window(5.0, 55.0)


def test_nested_ridge_equals_the_cross_validated_ridge():
    """At a fixed setting the nested engine's outer folds are RidgePredictor's (same splits,
    penalty per unit from the same inner folds): an independent reference."""
    from neurofond.compare.nested import NestedRidge, fold_plan, scale_features
    from neurofond.compare.scores import predictivity

    rng = np.random.default_rng(0)
    c, k, nb, u = 16, 30, 25, 12
    feat = rng.normal(size=(c, k, nb))
    targets = np.einsum("ckb,ku->cub", feat, rng.normal(size=(k, u)))
    targets += 3 * rng.normal(size=targets.shape)
    con = np.tile([0.2, 1.0], 8)
    ref = predictivity(feat, targets, con, n_folds=4, seed=0, inner_folds=3)
    ridge = NestedRidge(targets.transpose(0, 2, 1), fold_plan(con, 4, 3, 0))
    x = scale_features(feat.transpose(0, 2, 1))
    scores, alpha_idx = ridge.inner_scores(x)
    assert scores.shape == (4,) and np.all(np.isfinite(scores))
    r = np.array([ridge.outer_r(x, f, alpha_idx[f]) for f in range(4)])
    np.testing.assert_allclose(r.mean(0), ref["neuron_r"].values, atol=1e-10)
    np.testing.assert_allclose(ridge.alphas[alpha_idx], ref["alpha"].values)
    assert np.nanmean(np.nanmedian(r, 1)) == pytest.approx(float(ref["score"]), abs=1e-10)


def test_reduce_features_keeps_the_ridge_subspace():
    from neurofond.compare.nested import reduce_features

    rng = np.random.default_rng(1)
    low = rng.normal(size=(6, 3, 40))  # rank-3 responses of 50 channels
    rates = np.einsum("cpt,pk->ckt", low, rng.normal(size=(3, 50)))
    red, kept = reduce_features(rates, 8)
    assert red.shape == (6, 8, 40) and kept == pytest.approx(1.0)
    same, kept_all = reduce_features(rates, None)
    assert same.shape == rates.shape and kept_all == 1.0


#: Canvas of the fast synthetic comparisons (the 8-deg field at 128 px instead of 256: the
#: Gabor energies cost a quarter; the assumption is passed to compare() as ``size_px``).
SMALL_PX = 128


def _floor_recordings(delay_ms: float, seed: int = 0):
    """Poisson "recordings" of Gabor-energy channels at 5 ms per step and a known delay."""
    from neurofond.compare.resampling import resample_matrix
    from neurofond.responses import make_responses

    params = {**compare.stimulus_parameters(), "size_px": SMALL_PX}
    ori = np.repeat(np.arange(8) * 22.5, 2)
    con = np.tile([0.3, 1.0], 8)
    cand = compare.BaselineCandidate("gabor-energy", params)
    stim = compare.render_conditions(ori, con, params)
    steps = np.arange(-80, 110)
    feats = cand.simulate(stim, steps, 1, 0, spikes=False).astype(float)
    starts = np.arange(-300.0, 500.0, 10.0)
    psth = feats @ resample_matrix(steps, 5.0, delay_ms, np.append(starts, 500.0)).T
    rng = np.random.default_rng(seed)
    units = rng.choice(np.flatnonzero(psth.max(axis=(0, 2)) > 0), 20, replace=False)
    p = psth[:, units] / psth[:, units].max(axis=(0, 2), keepdims=True)
    lam = (3.0 + 50.0 * p) * 0.01
    counts = rng.poisson(lam[None], size=(25, *lam.shape))
    return make_responses(counts, bin_ms=10.0, stimulus_coords={"orientation": ori,
                                                                 "contrast": con},
                          time_start_ms=starts)


def test_delay_recovered_by_nested_selection():
    """A baseline generator (fast): its delay recovered within one grid step by every fold."""
    rec = _floor_recordings(40.0)
    comp = compare.compare(rec, ["gabor-energy", "stimulus-floor"], quick=True, n_trials=2,
                           n_trials_features=1, n_bootstrap=20, progress=False,
                           delays_ms=(0.0, 20.0, 40.0, 60.0, 80.0), size_px=SMALL_PX)
    fit = comp.fits["gabor-energy"]
    assert fit["delay_ms"] == 40.0
    assert all(abs(p["delay_ms"] - 40.0) <= 20.0 for p in fit["per_fold"])
    assert {p["fold"] for p in fit["per_fold"]} == {0, 1, 2, 3}
    assert "nested" in fit["selection"]
    summary = {r["model"]: r for r in comp.rows if r["session"] == "all"}
    assert (summary["gabor-energy"]["predictivity_ceiled"]
            > summary["stimulus-floor"]["predictivity_ceiled"])


def test_shuffled_labels_give_no_condition_specific_predictivity():
    """Negative control (fast): the stimulus labels of tuned recordings permuted; with
    centered scoring every candidate's ceiled predictivity is ~0 (the nested selection
    cannot manufacture stimulus-specific structure)."""
    rec = _floor_recordings(40.0, seed=1)
    perm = np.random.default_rng(3).permutation(rec.sizes["stimulus"])
    shuffled = rec.copy(data=rec.values[:, perm])
    comp = compare.compare(shuffled, ["gabor-energy", "stimulus-floor"], quick=True,
                           n_trials=2, n_trials_features=1, n_bootstrap=20, progress=False,
                           delays_ms=(0.0, 40.0, 80.0), centered=True, size_px=SMALL_PX)
    for row in comp.rows:
        assert row["predictivity_ceiled"] < 0.1, row


def test_vae_spike_counts_accumulate_the_simulated_spikes():
    """The accumulated counts of VAECandidate.spike_counts equal the step spikes of
    simulate (same chains and seeds) resampled afterwards; warm-up shared and cached."""
    from neurofond.compare.resampling import fano_step_mask, resample_matrix
    from neurofond.pretrained import CheckpointInfo

    try:
        info = CheckpointInfo.from_spec("ipvae-k512-b24-photos")
    except Exception:  # pragma: no cover - shipped with the package
        pytest.skip("shipped checkpoint ipvae-k512-b24-photos not available")
    params = compare.stimulus_parameters()
    cand = compare.VAECandidate(info, patch_size_deg=1.0, device="cpu")
    stim = compare.render_conditions(np.array([0.0, 90.0]), np.array([1.0, 1.0]), params)
    steps = np.arange(-25, 60)
    edges = np.arange(-200.0, 501.0, 10.0)
    w = resample_matrix(steps, 10.0, 40.0, edges)
    fmask = fano_step_mask(steps, 10.0, 40.0)
    spk = cand.simulate(stim, steps, 3, 7, spikes=True)
    fano, binned = cand.spike_counts(stim, steps, 3, 7, w, fmask)
    np.testing.assert_allclose(fano, spk[..., fmask].sum(-1))
    np.testing.assert_allclose(binned, np.clip(spk @ w.T.astype(np.float32), 0, None),
                               rtol=1e-5, atol=1e-5)
    assert len(cand._warm) == 1 and spk[..., steps >= 0].sum() > spk[..., steps < 0].sum()
