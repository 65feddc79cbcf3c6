"""Tests of neurofond.analysis.predictivity and neurofond.analysis.ceilings.

Closed-form checks on synthetic data always; parity with the installed brainscore-vision
package (offline: its ``pls`` / ``ridge`` metrics and ``internal_consistency`` ceiling on
locally built NeuroidAssemblies) when it is importable; one check on the Ecker et al. 2010
recordings when ../shared/data holds them.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from neurofond.analysis import (
    ConditionSplitter,
    PLSPredictor,
    PoissonGLMPredictor,
    RidgePredictor,
    ceiled_score,
    condition_splits,
    cross_validated_predictivity,
    fev,
    feve,
    pearson_r,
    spearman_brown,
    split_half_reliability,
)
from neurofond.responses import make_responses

# ----------------------------------------------------------------------------- helpers


def _linear_data(n=200, p=50, q=30, noise=5.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    W = rng.normal(size=(p, q))
    Y = X @ W + noise * rng.normal(size=(n, q))
    return X, Y, W


def _neuralpredictors_feve(targets, outputs):
    """FEV and FEVE as in neuralpredictors / Sensorium, on lists of (repeats, neurons) arrays.

    Written from the published definition (Cadena et al. 2019; neuralpredictors
    ``compute_feve_from_target_and_outputs``): total variance over all trials (ddof=1),
    noise variance = mean over images of the across-repeat variance (ddof=1), MSE over all
    trials.
    """
    img_var = np.vstack([np.var(t, axis=0, ddof=1) for t in targets])
    sq = np.vstack([(t - o) ** 2 for t, o in zip(targets, outputs)])
    total = np.var(np.vstack(targets), axis=0, ddof=1)
    noise = img_var.mean(axis=0)
    mse = sq.mean(axis=0)
    return (total - noise) / total, 1 - (mse - noise) / (total - noise)


# ----------------------------------------------------------------------------- splits


def test_condition_splits_follow_brainscore_convention():
    from sklearn.model_selection import ShuffleSplit

    for n in (30, 200, 1440):
        splits = condition_splits(n)  # 10 splits, 90/10, seed 1
        ref = list(ShuffleSplit(10, train_size=0.9, random_state=1).split(np.zeros(n)))
        assert len(splits) == 10
        for (train, test), (rtr, rte) in zip(splits, ref):
            np.testing.assert_array_equal(train, np.sort(rtr))
            np.testing.assert_array_equal(test, np.sort(rte))
            assert train.size == int(np.floor(0.9 * n)) and train.size + test.size == n
            assert not np.intersect1d(train, test).size


def test_condition_kfold_tests_every_condition_once():
    splits = condition_splits(23, n_splits=5, kfold=True, seed=3)
    tested = np.concatenate([te for _, te in splits])
    np.testing.assert_array_equal(np.sort(tested), np.arange(23))
    for train, test in splits:
        assert np.union1d(train, test).size == 23


def test_stratified_splits_keep_proportions():
    labels = np.repeat(["a", "b"], [40, 10])
    for _train, test in condition_splits(50, n_splits=5, test_size=0.2, stratify=labels):
        assert np.sum(labels[test] == "a") == 8 and np.sum(labels[test] == "b") == 2


def test_splitter_never_separates_repeats():
    rng = np.random.default_rng(0)
    conditions = rng.permutation(np.repeat(np.arange(25), rng.integers(1, 6, 25)))
    for kfold in (False, True):
        splitter = ConditionSplitter(n_splits=5, test_size=0.2, kfold=kfold)
        for train, test in splitter.split(np.zeros(conditions.size), groups=conditions):
            assert not set(conditions[train]) & set(conditions[test])
            assert train.size + test.size == conditions.size


class _Spy:
    """Estimator recording the conditions it was trained and tested on (feature 0 = id)."""

    log: list = []

    def __init__(self):
        pass

    def fit(self, X, Y):
        self.train_ids = set(X[:, 0].astype(int))
        return self

    def predict(self, X):
        _Spy.log.append((self.train_ids, set(X[:, 0].astype(int))))
        return np.tile(X[:, :1], (1, 3)) + np.random.default_rng(0).normal(size=(len(X), 3))


def test_cross_validation_keeps_repeats_of_a_condition_together():
    rng = np.random.default_rng(1)
    cond = np.repeat(np.arange(40), 4)  # 40 stimuli x 4 repeats, single trials
    X = np.column_stack([cond, rng.normal(size=cond.size)])
    Y = rng.normal(size=(cond.size, 3))
    _Spy.log = []
    ds = cross_validated_predictivity(X, Y, cond, model=_Spy(), n_splits=6)
    assert len(_Spy.log) == 6
    for train_ids, test_ids in _Spy.log:
        assert not train_ids & test_ids and len(test_ids) == 4
    assert ds.test_mask.sum("condition").values.tolist() == [4] * 6


@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"n_conditions": 1}, "n_conditions"),
        ({"n_conditions": 10, "n_splits": 0}, "n_splits"),
        ({"n_conditions": 10, "test_size": 1.5}, "test_size"),
        ({"n_conditions": 10, "test_size": 10}, "test_size"),
        ({"n_conditions": 10, "seed": -1}, "seed"),
        ({"n_conditions": 10, "stratify": [0, 1]}, "stratify"),
        ({"n_conditions": 4, "n_splits": 5, "kfold": True}, "n_splits"),
    ],
)
def test_split_errors(kwargs, word):
    with pytest.raises(ValueError, match=word):
        condition_splits(**kwargs)


# ----------------------------------------------------------------------------- estimators


def test_ridge_recovers_linear_map():
    X, Y, W = _linear_data(n=400, p=20, q=8, noise=0.1, seed=2)
    model = RidgePredictor().fit(X, Y)
    np.testing.assert_allclose(model.coef_.T, W, atol=0.02)
    ds = cross_validated_predictivity(X, Y, model="ridge")
    assert float(ds.pearson_r.min()) > 0.95
    assert float(ds.score) > 0.99 and float(ds.explained_variance_score) > 0.99


@pytest.mark.parametrize("shape", [(120, 15, 4), (60, 150, 3)])  # primal and dual branches
def test_ridge_equals_sklearn_at_fixed_alpha(shape):
    from sklearn.linear_model import Ridge

    n, p, q = shape
    X, Y, _ = _linear_data(n, p, q, noise=2.0, seed=4)
    Xt = np.random.default_rng(5).normal(size=(30, p))
    for alpha in (0.01, 3.0, 300.0):
        ours = RidgePredictor(alphas=[alpha]).fit(X, Y)
        ref = Ridge(alpha=alpha).fit(X, Y)
        np.testing.assert_allclose(ours.predict(Xt), ref.predict(Xt), atol=1e-9)
        np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-9)
    # several penalties (eigen-decomposition path): each neuron equals Ridge at its alpha
    multi = RidgePredictor(alphas=[0.1, 10.0, 1000.0], inner_folds=3).fit(X, Y)
    for j in range(q):
        ref = Ridge(alpha=multi.alpha_[j]).fit(X, Y[:, j])
        np.testing.assert_allclose(multi.coef_[j], ref.coef_, atol=1e-8)
    # alpha = 0: minimum-norm least squares
    zero = RidgePredictor(alphas=[0.0]).fit(X, Y)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    np.testing.assert_allclose(zero.coef_.T, np.linalg.lstsq(Xc, Yc, rcond=None)[0], atol=1e-7)


@pytest.mark.parametrize("alphas", [[2.0], [0.0], None])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_gram_path_equals_feature_path(alphas, fit_intercept):
    """Kernel ridge on one Gram matrix of all samples == refitting the features per split."""
    from neurofond.analysis.ridge_solvers import GramDesign

    rng = np.random.default_rng(11)
    n_cond, p, q = 40, 120, 6
    groups_all = np.repeat(np.arange(n_cond), 2)  # two repeats per condition
    X = rng.normal(size=(2 * n_cond, p)) + 0.5  # non-zero mean: the intercept matters
    Y = X[:, :5] @ rng.normal(size=(5, q)) + rng.normal(size=(2 * n_cond, q)) + 3.0
    design = GramDesign.from_features(X, fit_intercept)
    for train_c, test_c in condition_splits(n_cond, 4, test_size=0.25, seed=1):
        train = np.flatnonzero(np.isin(groups_all, train_c))
        test = np.flatnonzero(np.isin(groups_all, test_c))
        params = dict(alphas=alphas, inner_folds=3, fit_intercept=fit_intercept)
        ref = RidgePredictor(**params).fit(X[train], Y[train], groups=groups_all[train])
        est = RidgePredictor(**params)
        pred = est._fit_predict_gram(design, Y, train, test, groups_all[train])
        np.testing.assert_array_equal(est.alpha_, ref.alpha_)
        np.testing.assert_allclose(pred, ref.predict(X[test]), rtol=1e-7, atol=1e-7)
    # and through the public entry point (which takes the Gram path since p > n)
    ds = cross_validated_predictivity(X, Y, groups_all, model=RidgePredictor(alphas=alphas,
                                      inner_folds=3, fit_intercept=fit_intercept), n_splits=4)
    manual = []
    for train_c, test_c in condition_splits(n_cond, 4, test_size=0.1, seed=1):
        tr, te = np.isin(groups_all, train_c), np.isin(groups_all, test_c)
        m = RidgePredictor(alphas=alphas, inner_folds=3, fit_intercept=fit_intercept)
        pred = m.fit(X[tr], Y[tr], groups=groups_all[tr]).predict(X[te])
        manual.append(pearson_r(Y[te], pred))
    np.testing.assert_allclose(ds.pearson_r.values, np.array(manual), atol=1e-7)


def test_ridge_nested_cv_chooses_penalties():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(150, 30))
    w = rng.normal(size=30)
    Y = np.column_stack([X @ w + 0.05 * rng.normal(size=150), 10 * rng.normal(size=150)])
    model = RidgePredictor(alpha_per_target=True).fit(X, Y)
    assert model.alpha_[0] < model.alpha_[1]  # signal: small penalty; pure noise: large
    assert model.cv_mse_.shape == (21, 2)
    shared = RidgePredictor(alpha_per_target=False).fit(X, Y)
    assert shared.alpha_[0] == shared.alpha_[1]
    groups = np.repeat(np.arange(50), 3)
    assert RidgePredictor(inner_folds=4).fit(X, Y, groups=groups).alpha_.shape == (2,)
    with pytest.raises(ValueError, match="inner_folds"):
        RidgePredictor(inner_folds=5).fit(X[:6], Y[:6], groups=np.repeat([0, 1], 3))
    with pytest.raises(ValueError, match="alphas"):
        RidgePredictor(alphas=[-1.0, 1.0]).fit(X, Y)


@pytest.mark.parametrize("scale", [False, True])
@pytest.mark.parametrize("shape", [(180, 50, 30), (150, 40, 60), (80, 10, 1)])
def test_pls_equals_sklearn(shape, scale):
    from sklearn.cross_decomposition import PLSRegression

    n, p, q = shape
    X, Y, _ = _linear_data(n, p, q, noise=5.0, seed=7)
    k = min(25, p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's "Maximum number of iterations"
        ref = PLSRegression(n_components=k, scale=scale).fit(X, Y)
    ours = PLSPredictor(n_components=k, scale=scale).fit(X, Y)
    Xt = np.random.default_rng(8).normal(size=(40, p))
    np.testing.assert_allclose(
        ours.predict(Xt).reshape(40, -1), ref.predict(Xt).reshape(40, -1), atol=1e-8
    )
    assert ours.n_iter_ == list(ref.n_iter_)
    with pytest.raises(ValueError, match="n_components"):
        PLSPredictor(n_components=p + 1).fit(X, Y)


def test_glm_recovers_poisson_coefficients():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(2000, 4))
    beta = np.array([[0.5, -0.3, 0.2, 0.0], [0.1, 0.4, -0.2, 0.3]])
    b0 = np.array([0.7, -0.2])
    Y = rng.poisson(np.exp(b0 + X @ beta.T))
    for alpha, tol in ((0.0, 0.06), (1e-3, 0.06)):
        model = PoissonGLMPredictor(alpha=alpha).fit(X, Y)
        np.testing.assert_allclose(model.coef_, beta, atol=tol)
        np.testing.assert_allclose(model.intercept_, b0, atol=tol)
    strong = PoissonGLMPredictor(alpha=1.0).fit(X, Y)
    assert np.abs(strong.coef_).sum() < np.abs(model.coef_).sum()  # L2 shrinks
    pred = model.predict(X)
    assert pred.shape == Y.shape and np.all(pred > 0)
    silent = PoissonGLMPredictor().fit(X[:50], np.zeros(50))
    assert np.all(silent.predict(X[:5]) == 0)
    with pytest.raises(ValueError, match="Y"):
        PoissonGLMPredictor().fit(X[:10], -np.ones(10))


def test_estimators_follow_sklearn_protocol():
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_score

    model = RidgePredictor(alphas=[1.0, 10.0], inner_folds=3, seed=2)
    twin = clone(model)
    assert twin.get_params() == model.get_params() and twin is not model
    assert PLSPredictor().set_params(n_components=3).n_components == 3
    with pytest.raises(ValueError, match="bogus"):
        PLSPredictor().set_params(bogus=1)
    X, Y, _ = _linear_data(90, 8, 1, noise=0.5, seed=10)
    groups = np.repeat(np.arange(30), 3)
    scores = cross_val_score(
        PLSPredictor(n_components=4),
        X,
        Y[:, 0],
        groups=groups,
        cv=ConditionSplitter(n_splits=3, test_size=0.2),
    )
    assert scores.shape == (3,) and np.all(scores > 0.9)
    with pytest.raises(ValueError, match="not fitted"):
        RidgePredictor().predict(X)
    fitted = RidgePredictor(alphas=[1.0]).fit(X, Y)
    with pytest.raises(ValueError, match="X"):
        fitted.predict(X[:, :3])


# ----------------------------------------------------------------------------- cross-validation


def test_predictivity_dataset_and_aggregation():
    X, Y, _ = _linear_data(100, 20, 12, noise=8.0, seed=11)
    coords = {"neuron_id": ("unit", [f"u{j}" for j in range(12)])}
    targets = xr.DataArray(Y, dims=("sample", "unit"), coords=coords)
    ds = cross_validated_predictivity(X, targets, model="pls", model_params={"n_components": 5})
    assert ds.pearson_r.dims == ("split", "neuron") and ds.sizes["split"] == 10
    assert list(ds.neuron_id.values[:2]) == ["u0", "u1"]
    med = np.median(ds.pearson_r.values, axis=1)
    np.testing.assert_allclose(ds.median_r.values, med)
    assert float(ds.score) == pytest.approx(med.mean())
    assert float(ds.score_error) == pytest.approx(med.std() / np.sqrt(10))
    assert "alpha" not in ds and ds.attrs["model"] == "PLSPredictor"
    ridge = cross_validated_predictivity(X, Y, model="ridge", n_splits=3)
    assert ridge.alpha.shape == (3, 12) and np.isfinite(ridge.alpha).all()
    with pytest.raises(ValueError, match="model"):
        cross_validated_predictivity(X, Y, model="svm")
    with pytest.raises(ValueError, match="targets"):
        cross_validated_predictivity(X, Y[:50])
    with pytest.raises(ValueError, match="features"):
        cross_validated_predictivity(np.where(X > 2, np.nan, X), Y)
    with pytest.raises(ValueError, match="conditions"):
        cross_validated_predictivity(X, Y, conditions=np.arange(3))


def _synthetic_responses(n_trials=12, n_stim=40, n_neurons=6, seed=12):
    """Poisson counts driven linearly (log link) by 3 stimulus features; some NaN trials."""
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(n_stim, 3))
    B = rng.normal(scale=0.5, size=(3, n_neurons))
    rate = np.exp(1.0 + F @ B)  # (stim, neuron) spikes per window
    counts = rng.poisson(rate[None, :, :, None] / 5, size=(n_trials, n_stim, n_neurons, 5))
    counts = counts.astype(np.float32)
    counts[-2:, : n_stim // 2] = np.nan  # unequal repetitions
    r = make_responses(
        counts,
        bin_ms=10.0,
        stimulus_coords={"group": np.arange(n_stim) % 2},
        source="synthetic",
        allow_nan=True,
    )
    return r, F, rate


def test_predictivity_on_responses_trial_average_and_single_trials():
    r, F, _ = _synthetic_responses()
    avg = cross_validated_predictivity(F, r, model="ridge", n_splits=4, stratify="group")
    assert avg.attrs["n_samples"] == 40 and float(avg.score) > 0.7
    single = cross_validated_predictivity(
        F,
        r,
        model="glm",
        trial_average=False,
        n_splits=3,
        average_test_repeats=True,
    )
    assert single.attrs["n_samples"] == 12 * 40 - 2 * 20  # NaN trials dropped
    assert float(single.score) > 0.8  # log-linear ground truth, corr to average
    model = make_responses(
        np.repeat(np.exp(F)[None, :, :, None], 2, axis=0), bin_ms=1.0, source="model:toy"
    )
    from_model = cross_validated_predictivity(model, r, model="ridge", n_splits=2)
    assert from_model.attrs["n_features"] == 3 and float(from_model.score) > 0.3
    shifted = model.assign_coords(stimulus_id=("stimulus", np.arange(40) + 1))
    with pytest.raises(ValueError, match="stimulus_id"):
        cross_validated_predictivity(shifted, r)
    with pytest.raises(ValueError, match="conditions"):
        cross_validated_predictivity(F, r, conditions=np.arange(40))
    with pytest.raises(ValueError, match="features"):
        cross_validated_predictivity(F[:10], r)
    with pytest.raises(ValueError, match="stratify"):
        cross_validated_predictivity(F, r, stratify="orientation")
    with pytest.raises(ValueError, match="window_ms"):
        cross_validated_predictivity(F, r, window_ms=(0, 1000))


# ----------------------------------------------------------------------------- ceilings


def test_fev_of_pure_noise_is_zero_and_of_signal_high():
    rng = np.random.default_rng(13)
    noise_only = rng.poisson(5.0, size=(30, 50, 40)).astype(float)
    values = fev(noise_only, clip=False).values
    assert abs(values.mean()) < 0.01 and np.all(np.abs(values) < 0.06)
    assert np.all(fev(noise_only).values >= 0)  # clipped
    rates = rng.gamma(2.0, 5.0, size=(1, 50, 40))
    driven = rng.poisson(rates, size=(30, 50, 40)).astype(float)
    assert float(fev(driven).min()) > 0.5
    avg = fev(driven, trial_average=True)
    assert float(avg.min()) > float(fev(driven).min())  # means are less noisy


def test_fev_feve_match_neuralpredictors_definition_with_unequal_repeats():
    rng = np.random.default_rng(14)
    rates = rng.gamma(2.0, 3.0, size=(25, 7))
    reps = rng.integers(4, 12, size=25)
    targets = [rng.poisson(rates[c], size=(reps[c], 7)).astype(float) for c in range(25)]
    pred = rates * rng.uniform(0.8, 1.2, size=rates.shape)
    outputs = [np.broadcast_to(pred[c], t.shape) for c, t in enumerate(targets)]
    ref_fev, ref_feve = _neuralpredictors_feve(targets, outputs)
    counts = np.full((reps.max(), 25, 7), np.nan)
    for c, t in enumerate(targets):
        counts[: reps[c], c] = t
    ds = feve(pred, counts, return_stats=True, min_fev=-np.inf)
    np.testing.assert_allclose(ds.fev.values, ref_fev, rtol=1e-12)
    np.testing.assert_allclose(ds.feve.values, ref_feve, rtol=1e-12)
    np.testing.assert_allclose(fev(counts, clip=False).values, ref_fev, rtol=1e-12)


def test_feve_perfect_mean_predictions_and_clipping():
    rng = np.random.default_rng(15)
    rates = rng.gamma(2.0, 5.0, size=(60, 10))
    counts = rng.poisson(rates, size=(40, 60, 10)).astype(float)
    sample_means = counts.mean(axis=0)
    np.testing.assert_allclose(feve(sample_means, counts, ddof=0).values, 1.0, atol=1e-12)
    # true means: FEVE ~ 1 (unbiased noise variance, ddof=1)
    assert np.allclose(feve(rates, counts).values, 1.0, atol=0.03)
    assert np.allclose(feve(rates, counts, trial_average=True).values, 1.0, atol=0.15)
    grand = np.broadcast_to(counts.mean(axis=(0, 1)), rates.shape)
    assert np.all(feve(grand, counts).values < 0.05)  # the mean response explains nothing
    # noise exceeding the total variance: neuron excluded (NaN) without a warning
    noisy = counts.copy()
    noisy[:, :, 0] = rng.poisson(5.0, size=(40, 60))
    stats = fev(noisy, clip=False, return_stats=True)
    bad = np.flatnonzero(stats.fev.values <= 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = feve(rates, noisy).values
    assert np.all(np.isnan(value[bad])) and np.isfinite(value[1:]).all()
    high = feve(rates, counts, min_fev=0.99)
    assert np.isnan(high.values).sum() > 0
    with pytest.raises(ValueError, match="predictions"):
        feve(rates[:5], counts)
    with pytest.raises(ValueError, match="ddof"):
        fev(counts, ddof=2)


def test_fev_on_responses_window():
    r, _, rate = _synthetic_responses()
    whole = fev(r)
    part = fev(r, window_ms=(0, 30))
    assert whole.sizes["neuron"] == 6 and "neuron_id" in whole.coords
    assert not np.allclose(whole.values, part.values)
    assert np.isfinite(feve(rate, r).values).all()


def test_split_half_reliability_basics():
    rng = np.random.default_rng(16)
    rates = rng.gamma(2.0, 4.0, size=(1, 50, 8))
    counts = rng.poisson(rates, size=(20, 50, 8)).astype(float)
    ds = split_half_reliability(counts, n_splits=5)
    assert ds.reliability.dims == ("split", "neuron") and ds.sizes["split"] == 5
    np.testing.assert_allclose(ds.reliability, spearman_brown(ds.split_half_r))
    assert 0.8 < float(ds.ceiling) <= 1
    noise = split_half_reliability(rng.poisson(4.0, size=(20, 50, 8)).astype(float))
    assert abs(float(noise.ceiling)) < 0.3
    counts[:5, :10] = np.nan  # missing trials are skipped by nan-aware means
    assert np.isfinite(split_half_reliability(counts).ceiling)
    with pytest.raises(ValueError, match="trials"):
        split_half_reliability(counts[:1])
    with pytest.raises(ValueError, match="window_ms"):
        split_half_reliability(counts, window_ms=(0, 10))


def test_spearman_brown_and_ceiled_score():
    assert spearman_brown(0.5) == pytest.approx(2 / 3)
    assert spearman_brown(0.5, n=3) == pytest.approx(0.75)
    assert ceiled_score(0.5, 0.8) == pytest.approx(0.3125)
    with pytest.raises(ValueError, match="ceiling"):
        ceiled_score(0.5, 0.0)


# ----------------------------------------------------------------------------- Brain-Score parity


@pytest.fixture(scope="module")
def brainscore(brainscore_env):
    bs = pytest.importorskip("brainscore_vision")
    assemblies = pytest.importorskip("brainscore_core.supported_data_standards.brainio.assemblies")
    return bs, assemblies.NeuroidAssembly


def _assembly(NeuroidAssembly, values, stim, rep=None, prefix="n"):
    coords = {
        "stimulus_id": ("presentation", [f"s{c:04d}" for c in stim]),
        "image_index": ("presentation", np.asarray(stim)),
        "neuroid_id": ("neuroid", [f"{prefix}{j:03d}" for j in range(values.shape[1])]),
        "region": ("neuroid", ["V1"] * values.shape[1]),
    }
    if rep is not None:
        coords["repetition"] = ("presentation", np.asarray(rep))
    return NeuroidAssembly(values, coords=coords, dims=["presentation", "neuroid"])


def _raw_by_neuron(score, n):
    raw = score.attrs["raw"]
    ids = list(raw["neuroid_id"].values)
    return raw.transpose("split", "neuroid").values[:, [ids.index(f"n{j:03d}") for j in range(n)]]


@pytest.mark.parametrize(
    "name, n_features", [("pls", 50), ("ridge", 50), ("ridge", 300)]  # 300: Gram path
)
def test_regression_matches_brainscore_metric(brainscore, name, n_features):
    bs, NeuroidAssembly = brainscore
    X, Y, _ = _linear_data(200, n_features, 30, noise=5.0, seed=0)  # 200 stimuli, 30 units
    stim = np.arange(200)
    metric = bs.load_metric(name, crossvalidation_kwargs=dict(stratification_coord=None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = metric(
            _assembly(NeuroidAssembly, X, stim, prefix="f"), _assembly(NeuroidAssembly, Y, stim)
        )
    model_params = {"alphas": [1.0]} if name == "ridge" else None  # Brain-Score ridge: alpha=1
    ds = cross_validated_predictivity(X, Y, model=name, model_params=model_params)
    # Same splits (seed 1, 90/10 over stimulus_id order): agreement to rounding error.
    assert abs(float(ds.score) - float(score)) < 1e-8  # far inside the 0.02 asked for
    assert abs(float(ds.score_error) - float(score.attrs["error"])) < 1e-8
    np.testing.assert_allclose(ds.pearson_r.values, _raw_by_neuron(score, 30), atol=1e-8)


def test_split_half_matches_brainscore_internal_consistency(brainscore):
    bs, NeuroidAssembly = brainscore
    rng = np.random.default_rng(1)
    T, C, N = 11, 60, 30
    rates = rng.gamma(2.0, 2.0, size=(1, C, N)) * rng.uniform(0.2, 1.0, size=(1, 1, N))
    counts = rng.poisson(rates, size=(T, C, N)).astype(float)
    counts[rng.random((T, C)) < 0.1] = np.nan  # unequal repetitions: presentations missing
    t_idx, c_idx = np.nonzero(~np.isnan(counts[:, :, 0]))
    asm = _assembly(NeuroidAssembly, counts[t_idx, c_idx], c_idx, rep=t_idx)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ceiling = bs.load_ceiling("internal_consistency")(asm)
    ds = split_half_reliability(counts)
    assert abs(float(ds.ceiling) - float(ceiling)) < 1e-10  # asked: 0.02
    assert abs(float(ds.ceiling_error) - float(ceiling.attrs["error"])) < 1e-10
    np.testing.assert_allclose(ds.reliability.values, _raw_by_neuron(ceiling, N), atol=1e-10)


# ----------------------------------------------------------------------------- recorded data


@pytest.mark.data
def test_ecker2010_split_half_ceiling(shared_data_dir):
    from neurofond.recordings import load_ecker2010

    path = shared_data_dir / "ecker2010_v1_gratings" / "data_v1_binned_static.mat"
    if not path.is_file():
        pytest.skip(f"Ecker et al. 2010 static release not found at {path}")
    sessions = load_ecker2010(path, session=7)
    responses = sessions[0].dropna("trial", how="any")  # NaN-free trials
    assert responses.sizes["trial"] >= 10
    ds = split_half_reliability(responses, window_ms=(0, 500))
    rel = ds.neuron_reliability.values
    inside = (rel > 0) & (rel <= 1)
    assert inside.mean() > 0.75, np.round(rel, 2)
    assert 0 < float(ds.ceiling) <= 1
    assert list(ds.neuron_id.values) == list(responses.neuron_id.values)
