"""LCA sparse coding (Rozell et al. 2008): lasso fixed point, energy, shipped dictionary."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurofond.models.lca import (
    LCA_NAME,
    LCABaseline,
    lca_codes,
    lca_energy,
    learn_dictionary,
    load_lca,
    save_lca,
    soft_threshold,
)
from neurofond.responses import validate_responses


@pytest.fixture(scope="module")
def shipped():
    return load_lca(LCA_NAME)


@pytest.fixture(scope="module")
def heldout(shipped):
    from neurofond.fond.data import heldout_patches

    return heldout_patches(shipped[2], 3, seed=5).astype(np.float64)


def test_soft_threshold():
    u = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_array_equal(soft_threshold(u, 1.0), [-1.0, 0.0, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(soft_threshold(u, 1.0, nonnegative=True), [0, 0, 0, 0, 1.0])


def test_fixed_point_solves_the_lasso(shipped, heldout):
    """Independent reference: scikit-learn's coordinate-descent Lasso on the same dictionary
    and patch (its objective is ours divided by D, so alpha = lam / D)."""
    from sklearn.linear_model import Lasso

    phi, lam, _, _ = shipped
    phi = phi.astype(np.float64)
    a = lca_codes(heldout, phi, lam, n_steps=2000, dt_tau=0.1)
    for i in range(heldout.shape[0]):
        ref = Lasso(alpha=lam / phi.shape[0], fit_intercept=False, tol=1e-10,
                    max_iter=100_000).fit(phi, heldout[i]).coef_
        np.testing.assert_array_equal(a[i] != 0, ref != 0)  # the same support
        np.testing.assert_allclose(a[i], ref, atol=1e-3)
        assert lca_energy(heldout[i], phi, a[i], lam)[0] == pytest.approx(
            lca_energy(heldout[i], phi, ref, lam)[0], rel=1e-8)


def test_nonnegative_fixed_point_solves_the_positive_lasso():
    from sklearn.linear_model import Lasso

    rng = np.random.default_rng(0)
    phi = rng.normal(size=(36, 60))
    phi /= np.linalg.norm(phi, axis=0)
    x = phi[:, [3, 17, 40]] @ np.array([2.0, 1.0, 1.5]) + 0.05 * rng.normal(size=36)
    a = lca_codes(x, phi, 0.2, n_steps=5000, dt_tau=0.05, nonnegative=True)[0]
    ref = Lasso(alpha=0.2 / 36, fit_intercept=False, positive=True, tol=1e-12,
                max_iter=100_000).fit(phi, x).coef_
    np.testing.assert_allclose(a, ref, atol=1e-4)
    assert set(np.flatnonzero(a)) >= {3, 17, 40}


def test_energy_does_not_increase(shipped, heldout):
    phi, lam, _, _ = shipped
    _, trace = lca_codes(heldout, phi, lam, n_steps=300, return_trace=True)
    energy = np.array([lca_energy(heldout, phi, t, lam) for t in trace])  # (step, patch)
    steps = np.diff(energy, axis=0)
    assert np.all(steps <= 1e-9 * energy[:-1])
    assert np.all(energy[-1] < 0.9 * energy[0])


def test_shipped_dictionary_and_card(shipped):
    phi, lam, prep, card = shipped
    assert phi.shape == (256, 512) and prep.patch_size == 16 and lam == 1.0
    np.testing.assert_allclose(np.linalg.norm(phi, axis=0), 1.0, atol=1e-5)
    # the same patch preprocessing as the shipped iP-VAE (same photos, settings, z-score)
    from neurofond.pretrained import load_pretrained

    _, vae_prep, _ = load_pretrained("ipvae-k512-b24-photos")
    assert prep.to_dict() == vae_prep.to_dict()
    # measured at training (see the card); regression values
    assert card["dictionary"]["gabor_fraction"] == pytest.approx(0.7656, abs=1e-3)
    assert card["heldout_photos"]["r2_mean"] == pytest.approx(0.852, abs=0.005)
    assert card["heldout_photos"]["active_fraction"] == pytest.approx(0.0886, abs=0.002)
    assert card["training"]["n_updates"] == 4000 and card["training"]["wall_seconds"] > 0


def test_shipped_dictionary_is_not_a_vae_checkpoint():
    from neurofond.pretrained import BASELINE_CHECKPOINTS, list_pretrained

    assert LCA_NAME in BASELINE_CHECKPOINTS
    assert LCA_NAME not in {row["name"] for row in list_pretrained()}


def test_learn_dictionary_recovers_a_planted_dictionary(tmp_path):
    rng = np.random.default_rng(2)
    true = rng.normal(size=(16, 8))
    true /= np.linalg.norm(true, axis=0)
    codes = rng.exponential(size=(3000, 8)) * (rng.random((3000, 8)) < 0.2)
    x = codes @ true.T
    tr = learn_dictionary(x, 8, lam=0.1, n_updates=4000, batch_size=64, lr=0.05,
                          lca_steps=60, seed=0, log_every=500)
    match = np.abs(tr.dictionary.T @ true).max(axis=0)  # best |cosine| per planted element
    assert match.min() > 0.95  # measured 0.976-1.000
    assert tr.history["r2"][-1] > 0.9 and tr.seconds > 0
    path = save_lca(tmp_path / "d.safetensors", tr.dictionary, lam=0.1,
                    preprocessing={"patch_size": 4}, card={"note": "test"})
    phi, lam, prep, card = load_lca(path)
    np.testing.assert_array_equal(phi, tr.dictionary)
    assert lam == 0.1 and prep.patch_size == 4 and card == {"note": "test"}
    assert json.loads(path.with_suffix(".json").read_text())["kind"] == "lca"


def test_bad_input():
    phi = np.eye(4)
    with pytest.raises(ValueError, match="lam"):
        lca_codes(np.ones(4), phi, 0.0)
    with pytest.raises(ValueError, match="patches"):
        lca_codes(np.ones(5), phi, 0.1)
    with pytest.raises(ValueError, match="dictionary"):
        lca_codes(np.ones(4), np.full((4, 2), np.nan), 0.1)
    with pytest.raises(ValueError, match="checkpoint"):
        load_lca("no-such-dictionary")


def test_lca_baseline_presents_gratings():
    from neurofond.compare import render_conditions, stimulus_parameters

    params = stimulus_parameters()
    model = LCABaseline()
    stim = render_conditions(np.array([0.0, 90.0, 0.0]), np.array([1.0, 1.0, 0.0001]), params)
    a = model.features(stim)
    assert a.shape == (3, 512)
    assert np.abs(a[0] - a[1]).sum() > 0.5 * np.abs(a[0]).sum()  # orientation matters
    assert np.abs(a[2]).sum() < 1e-3 * np.abs(a[0]).sum()  # ~blank: no code
    resp = model.present(stim, n_trials=2, blank_steps=4, stimulus_steps=10, seed=0)
    validate_responses(resp)
    assert resp.sizes["neuron"] == 1024 and resp.dims == ("trial", "stimulus", "neuron", "time")
    assert set(resp["polarity"].values) == {"on", "off"}
