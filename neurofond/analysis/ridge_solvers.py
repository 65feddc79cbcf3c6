"""Closed-form ridge solvers over a feature matrix or over a precomputed Gram matrix.

Ridge regression with an unpenalised intercept (Hoerl & Kennard 1970) has the closed form
:math:`W(\\alpha) = X_c' (X_c X_c' + \\alpha I)^{-1} Y_c` (dual) :math:`= (X_c' X_c +
\\alpha I)^{-1} X_c' Y_c` (primal), with :math:`X_c, Y_c` centred on the training mean.
Every quantity the fit and the held-out predictions need can be written with inner products
of samples only, so when there are more features than samples a cross-validation can
compute the Gram matrix :math:`K = X X'` of *all* samples once and take every training
set's matrix as a sub-block (kernel ridge regression, Saunders, Gammerman & Vovk 1998),
instead of recomputing :math:`X_c X_c'` for every split and inner fold.

Two "designs" expose the same operations, so one cross-validation routine serves both:

- :class:`FeatureDesign`: rows of a feature matrix ``X`` (primal or dual, whichever Gram
  matrix is smaller);
- :class:`GramDesign`: rows of a precomputed Gram matrix ``K = X X'``, centred per
  training set with :math:`\\tilde K_{ij} = K_{ij} - a_i - a_j + c`,
  :math:`a_i = x_i \\cdot m`, :math:`c = m \\cdot m` (``m`` the training mean).

Both return, for a training index set, an eigen-decomposition of the centred Gram matrix
(all penalties at once) and a Cholesky solve for a single penalty, and project any rows
onto the fitted directions.

References
----------
Hoerl AE, Kennard RW (1970) Ridge regression: biased estimation for nonorthogonal
problems. Technometrics 12:55-67.
Saunders C, Gammerman A, Vovk V (1998) Ridge regression learning algorithm in dual
variables. Proc. 15th ICML, 515-521.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg

__all__ = ["EigenFactors", "FeatureDesign", "GramDesign"]

_EPS = float(np.finfo(np.float64).eps)


@dataclass
class EigenFactors:
    """Ridge solution for every penalty from one eigen-decomposition.

    For rows ``v``, ``pred(alpha) = ym + (project(v) / (s2 + alpha)) @ Z``.
    """

    ym: np.ndarray
    s2: np.ndarray
    Z: np.ndarray
    project: Callable[[np.ndarray], np.ndarray]
    basis: np.ndarray | None = None  # feature-space basis B (FeatureDesign): coef = B d Z
    xm: np.ndarray | None = None

    def weights(self, alphas: np.ndarray) -> np.ndarray:
        """``Z / (s2 + alpha_j)`` per target ``j`` (k, q): ``project(v) @ weights`` predicts
        (minus ``ym``), ``basis @ weights`` is the coefficient matrix."""
        with np.errstate(divide="ignore"):
            return self.Z * (1.0 / (self.s2[:, None] + alphas[None, :]))


def _eigh_kept(gram: np.ndarray, n: int, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of a PSD Gram matrix above ``max(s2) * max(n, p) * eps`` (the rest carry
    no signal; alpha -> 0 then gives the minimum-norm least-squares solution)."""
    s2, E = scipy.linalg.eigh(gram, check_finite=False, overwrite_a=True, driver="evd")
    keep = s2 > max(float(s2.max()), 0.0) * max(n, p) * _EPS
    return s2[keep], E[:, keep]


def _cholesky_solve(gram: np.ndarray, alpha: float, rhs: np.ndarray) -> np.ndarray | None:
    """``(gram + alpha I)^-1 rhs``, or None when not numerically positive definite."""
    gram[np.diag_indices_from(gram)] += alpha
    try:
        c, low = scipy.linalg.cho_factor(gram, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:
        return None
    return scipy.linalg.cho_solve((c, low), rhs, check_finite=False)


class FeatureDesign:
    """Ridge operations on rows of a feature matrix ``X`` (n_samples, n_features)."""

    def __init__(self, X: np.ndarray, fit_intercept: bool = True) -> None:
        self.X = X
        self.fit_intercept = fit_intercept
        self.n_features = X.shape[1]

    def _centre(self, Y: np.ndarray, tr: np.ndarray | None):
        """Centred training rows; ``tr=None`` takes all rows without copying ``X`` first."""
        Xtr, Ytr = (self.X, Y) if tr is None else (self.X[tr], Y[tr])
        p = Xtr.shape[1]
        xm = Xtr.mean(axis=0) if self.fit_intercept else np.zeros(p)
        ym = Ytr.mean(axis=0) if self.fit_intercept else np.zeros(Ytr.shape[1])
        return xm, ym, Xtr - xm, Ytr - ym

    def factors(self, Y: np.ndarray, tr: np.ndarray | None) -> EigenFactors:
        """Eigen-decomposition of the smaller Gram matrix of the centred training rows
        (``tr=None``: all rows)."""
        xm, ym, Xc, Yc = self._centre(Y, tr)
        n, p = Xc.shape
        dual = n < p
        s2, E = _eigh_kept(Xc @ Xc.T if dual else Xc.T @ Xc, n, p)
        Z = E.T @ Yc if dual else E.T @ (Xc.T @ Yc)
        B = Xc.T @ E if dual else E
        return EigenFactors(ym, s2, Z, lambda rows: (self.X[rows] - xm) @ B, basis=B, xm=xm)

    def direct(self, Y: np.ndarray, tr: np.ndarray | None, alpha: float):
        """``(xm, ym, coef)`` for one penalty > 0 by Cholesky (coef None if not PD;
        ``tr=None``: all rows)."""
        xm, ym, Xc, Yc = self._centre(Y, tr)
        n, p = Xc.shape
        if n < p:
            sol = _cholesky_solve(Xc @ Xc.T, alpha, Yc)
            return xm, ym, None if sol is None else Xc.T @ sol
        return xm, ym, _cholesky_solve(Xc.T @ Xc, alpha, Xc.T @ Yc)


class GramDesign:
    """Ridge operations on rows of a precomputed Gram matrix ``K = X X'`` of all samples.

    Parameters
    ----------
    K : ndarray (n_samples, n_samples)
        Inner products of the (uncentred) feature vectors.
    n_features : int
        Feature count of ``X`` (used only in the eigenvalue cut-off, as in
        :class:`FeatureDesign`).
    """

    def __init__(self, K: np.ndarray, n_features: int, fit_intercept: bool = True) -> None:
        self.K = K
        self.n_features = n_features
        self.fit_intercept = fit_intercept

    @classmethod
    def from_features(cls, X: np.ndarray, fit_intercept: bool = True) -> GramDesign:
        return cls(X @ X.T, X.shape[1], fit_intercept)

    def _centring(self, tr: np.ndarray) -> tuple[np.ndarray, float]:
        if not self.fit_intercept:
            return np.zeros(self.K.shape[0]), 0.0
        w = np.zeros(self.K.shape[1])
        w[tr] = 1.0 / tr.size
        a = self.K @ w  # a_i = x_i . m, without copying the (n, n_train) block
        return a, float(a[tr].mean())  # c = m . m

    def _block(self, rows: np.ndarray, tr: np.ndarray, a: np.ndarray, c: float) -> np.ndarray:
        return self.K[np.ix_(rows, tr)] - a[rows][:, None] - a[tr][None, :] + c

    def _ym(self, Y: np.ndarray, tr: np.ndarray) -> np.ndarray:
        return Y[tr].mean(axis=0) if self.fit_intercept else np.zeros(Y.shape[1])

    def factors(self, Y: np.ndarray, tr: np.ndarray) -> EigenFactors:
        """Eigen-decomposition of the centred training Gram block."""
        a, c = self._centring(tr)
        ym = self._ym(Y, tr)
        s2, E = _eigh_kept(self._block(tr, tr, a, c), tr.size, self.n_features)
        Z = E.T @ (Y[tr] - ym)
        return EigenFactors(ym, s2, Z, lambda rows: self._block(rows, tr, a, c) @ E)

    def direct_predict(self, Y: np.ndarray, tr: np.ndarray, alpha: float,
                       rows: np.ndarray) -> np.ndarray | None:
        """Predictions on ``rows`` for one penalty > 0 (None if not positive definite)."""
        a, c = self._centring(tr)
        ym = self._ym(Y, tr)
        dual = _cholesky_solve(self._block(tr, tr, a, c), alpha, Y[tr] - ym)
        if dual is None:
            return None
        return ym + self._block(rows, tr, a, c) @ dual
