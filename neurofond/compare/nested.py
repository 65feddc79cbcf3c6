"""Nested fitting: time scale, delay and contrast gain chosen inside the training folds only.

Per session the conditions are split into outer K folds (stratified by contrast; all time
bins of a condition on one side). For every outer fold, each candidate setting ``g`` =
(contrast gain, ms per step, delay) is scored by an inner K-fold cross-validation over the
*training* conditions of that fold: ridge regression from the model features to every
unit, the penalty chosen per unit by the inner squared error (as
:class:`neurofond.analysis.RidgePredictor`), the score = median over units of the Pearson r
between the pooled inner held-out predictions and the targets. The best ``g`` of the fold is
then refitted on all its training conditions (the penalty per unit again chosen by the
inner folds) and predicts the fold's test conditions, which never took part in any choice.
The reported score per unit is the Pearson r on the test samples averaged over folds;
per session the Brain-Score aggregate (median over units per fold, mean over folds).

Work is shared: for a fixed ``g`` every training set (outer and inner) of every fold is
solved from per-condition sufficient statistics (``X_c'X_c``, ``X_c'Y_c``, sums), so one
eigen-decomposition per split serves all units and penalties, and all splits of a session
are decomposed in one batched call. Model features with more than ``n_components`` channels
are first projected onto their leading principal components over the simulated steps
(fitted on the model's responses only; ridge is rotation invariant, so this drops only the
smallest-variance directions, which the penalty shrinks anyway; the kept variance is
reported).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["FoldPlan", "NestedRidge", "fold_plan", "reduce_features", "scale_features"]


@dataclass
class FoldPlan:
    """Outer folds of one session and the inner folds of each outer training set.

    ``outer``: list of ``(train_conditions, test_conditions)``; ``inner[f]``: list of
    ``(train, held_out)`` condition indices inside ``outer[f][0]``.
    """

    outer: list[tuple[np.ndarray, np.ndarray]]
    inner: list[list[tuple[np.ndarray, np.ndarray]]]


def fold_plan(contrast: np.ndarray, n_folds: int, inner_folds: int, seed: int) -> FoldPlan:
    """The splits of :func:`neurofond.compare.scores.predictivity` (same seeds and rules).

    Outer: ``condition_splits(n, n_folds, seed=seed + 1, stratify=contrast, kfold=True)``;
    inner: ``condition_splits(n_train, inner_folds, seed=0, kfold=True)`` over the training
    conditions in ascending order (:class:`~neurofond.analysis.RidgePredictor` defaults).
    """
    from neurofond.analysis.splits import condition_splits

    labels = np.unique(np.asarray(contrast), return_inverse=True)[1]
    outer = condition_splits(labels.size, int(n_folds), seed=seed + 1, stratify=labels,
                             kfold=True)
    inner = []
    for train_c, _ in outer:
        if train_c.size < inner_folds:
            raise ValueError(f"inner_folds: {inner_folds} folds but only {train_c.size} "
                             "training conditions")
        sub = condition_splits(train_c.size, int(inner_folds), seed=0, kfold=True)
        inner.append([(train_c[a], train_c[b]) for a, b in sub])
    return FoldPlan(outer=outer, inner=inner)


def reduce_features(rates: np.ndarray, n_components: int | None) -> tuple[np.ndarray, float]:
    """Leading principal components of step responses ``(cond, K, step)``.

    Returns ``(cond, P, step)`` projections (``P = min(n_components, K)``; unchanged when
    ``K <= n_components`` or ``n_components`` is None) and the fraction of the variance
    over conditions x steps they keep.
    """
    x = np.asarray(rates, dtype=np.float64)
    k = x.shape[1]
    if n_components is None or k <= int(n_components):
        return x, 1.0
    flat = x.transpose(0, 2, 1).reshape(-1, k)
    flat = flat - flat.mean(axis=0)
    cov = flat.T @ flat
    evals, evecs = np.linalg.eigh(cov)
    top = evecs[:, ::-1][:, : int(n_components)]
    total = float(np.clip(evals, 0, None).sum())
    kept = float(np.clip(evals[::-1][: int(n_components)], 0, None).sum())
    return np.einsum("ckt,kp->cpt", x, top), (kept / total if total > 0 else 1.0)


def scale_features(x: np.ndarray) -> np.ndarray:
    """Samples ``(cond, bin, P)``: constant features dropped, centred, one global SD.

    The scaling of :func:`neurofond.compare.scores.predictivity` (the ridge penalties are
    absolute, so the features are put on a common scale; features only, no targets).
    """
    c, nb, p = x.shape
    flat = x.reshape(c * nb, p)
    sd = flat.std(axis=0)
    keep = sd > 1e-9 * max(float(sd.max()) if sd.size else 0.0, 1e-30)
    flat = flat[:, keep]
    if flat.shape[1] == 0:
        flat = np.zeros((c * nb, 1))
    flat = flat - flat.mean(axis=0)
    scale = float(flat.std())
    if scale > 0:
        flat = flat / scale
    return flat.reshape(c, nb, -1)


def _pearson(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Pearson r per column of ``(n, U)`` arrays (NaN for a constant column)."""
    yc = y - y.mean(axis=0)
    pc = p - p.mean(axis=0)
    den = np.sqrt((yc * yc).sum(0) * (pc * pc).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (yc * pc).sum(0) / den
    return np.where(den > 0, r, np.nan)


class NestedRidge:
    """Ridge over the splits of a :class:`FoldPlan` from per-condition statistics.

    Parameters
    ----------
    targets : ndarray (cond, bin, unit)
        Trial-averaged PSTHs (the same for every candidate and setting).
    plan : FoldPlan
    alphas : ndarray
        Candidate penalties (default :data:`neurofond.analysis.estimators.DEFAULT_ALPHAS`).
    """

    def __init__(self, targets: np.ndarray, plan: FoldPlan, alphas: np.ndarray | None = None):
        from neurofond.analysis.estimators import DEFAULT_ALPHAS

        self.y = np.asarray(targets, dtype=np.float64)
        self.plan = plan
        self.alphas = np.asarray(DEFAULT_ALPHAS if alphas is None else alphas, dtype=float)
        c, nb, _ = self.y.shape
        self.n_cond, self.nb = c, nb
        self.sy = self.y.sum(axis=1)  # (C, U)
        splits = []  # every training set: inner ones, then the outer ones
        for f, inner in enumerate(plan.inner):
            splits += [(f, tr, te) for tr, te in inner]
        self._inner = splits
        members = np.zeros((len(splits) + len(plan.outer), c))
        for i, (_, tr, _) in enumerate(splits):
            members[i, tr] = 1.0
        for f, (tr, _) in enumerate(plan.outer):
            members[len(splits) + f, tr] = 1.0
        self.members = members

    def _solve(self, x: np.ndarray, rows: slice):
        """Centred Gram eigen-decompositions of the training sets ``members[rows]``."""
        m = self.members[rows]
        xt = x.transpose(0, 2, 1)
        sxx = np.matmul(xt, x)
        sxy = np.matmul(xt, self.y)
        sx = x.sum(axis=1)
        n = m.sum(1) * self.nb
        xm = (m @ sx) / n[:, None]
        ym = (m @ self.sy) / n[:, None]
        g = np.tensordot(m, sxx, axes=1) - n[:, None, None] * xm[:, :, None] * xm[:, None, :]
        cxy = (np.tensordot(m, sxy, axes=1)
               - n[:, None, None] * xm[:, :, None] * ym[:, None, :])
        s, v = np.linalg.eigh(g)
        s = np.clip(s, 0.0, None)
        z = np.matmul(v.transpose(0, 2, 1), cxy)
        return xm, ym, s, v, z

    def _predict(self, x, cond, xm, ym, s, v, z, alpha_idx=None):
        """Predictions of conditions ``cond``: (alpha, n, U), or (n, U) at per-unit alphas."""
        a = (x[cond].reshape(-1, x.shape[2]) - xm) @ v  # (n, P)
        d = 1.0 / (s[None, :] + self.alphas[:, None])  # (A, P)
        if alpha_idx is None:
            return ym + np.matmul(a[None] * d[:, None, :], z)
        w = d[alpha_idx].T * z  # (P, U) per-unit penalty
        return ym + a @ w

    def inner_scores(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Inner-CV score per outer fold and the penalty index per fold and unit.

        ``x``: scaled features ``(cond, bin, P)`` (:func:`scale_features`). Returns
        ``scores`` (n_folds,) = median over units of the pooled inner held-out Pearson r
        at each unit's penalty, and ``alpha_idx`` (n_folds, U) (minimum inner SSE).
        """
        n_in = len(self._inner)
        xm, ym, s, v, z = self._solve(x, slice(0, n_in))
        n_f = len(self.plan.outer)
        u = self.y.shape[2]
        sse = np.zeros((n_f, self.alphas.size, u))
        preds: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in range(n_f)]
        for i, (f, _, held) in enumerate(self._inner):
            p = self._predict(x, held, xm[i], ym[i], s[i], v[i], z[i])
            r = self.y[held].reshape(-1, u)
            sse[f] += ((p - r[None]) ** 2).sum(axis=1)
            preds[f].append((p, r))
        scores = np.full(n_f, np.nan)
        alpha_idx = np.argmin(sse, axis=1)  # (F, U)
        cols = np.arange(u)
        for f in range(n_f):
            p = np.concatenate([q for q, _ in preds[f]], axis=1)  # (A, n, U)
            y = np.concatenate([r for _, r in preds[f]], axis=0)
            rr = _pearson(y, p[alpha_idx[f], :, cols].T)
            scores[f] = float(np.nanmedian(rr)) if np.isfinite(rr).any() else np.nan
        return scores, alpha_idx

    def outer_r(self, x: np.ndarray, fold: int, alpha_idx: np.ndarray) -> np.ndarray:
        """Pearson r per unit on the test conditions of outer ``fold`` (fit on its training
        conditions at the per-unit penalties ``alpha_idx``)."""
        i = len(self._inner) + fold
        xm, ym, s, v, z = self._solve(x, slice(i, i + 1))
        test = self.plan.outer[fold][1]
        p = self._predict(x, test, xm[0], ym[0], s[0], v[0], z[0], alpha_idx)
        return _pearson(self.y[test].reshape(-1, self.y.shape[2]), p)
